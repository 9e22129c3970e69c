"""BM25-style sparse vectors: saturated term frequencies hashed to sparse indices.

Qdrant applies IDF itself (`Modifier.IDF` on the sparse vector), so a document vector
holds only the BM25 term-frequency part and a query vector holds 1.0 per distinct term.
The hashing is stable across processes and machines (blake2b, not Python's `hash`), and
its parameters are recorded in the collection so queries always match how chunks were
encoded.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer

from adaptrag.rag.types import SparseVector

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
V1 = "bm25-blake2b-v1"  # word tokens
V2 = "bm25-blake2b-v2"  # word tokens, and the letter and digit runs of glued ones
V3 = "bm25-blake2b-v3"  # v2, stemmed, a longer stop list, identifiers also kept whole
VERSIONS = (V1, V2, V3)
# "10-K", "ISO-9001", "v2.1", "§4.2(b)": joined by - . / and holding a digit.
_IDENTIFIER = re.compile(r"[^\W_]+(?:[-./][^\W_]+)+", re.UNICODE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words carry no retrieval signal in BM25 over short chunks (v1, v2).
_STOPWORDS = _words(
    "a an and are as at be but by for from has have he her his i if in into is it its of on "
    "or our she so such that the their them then there these they this to was we were which "
    "while who will with you your"
)
# From v3: Snowball's English stop list (function words, auxiliaries, pronouns).
STOPWORDS_V3 = _STOPWORDS | _words(
    "about above after again against all am any because been before being below between "
    "both can could did do does doing down during each few further had having here hers "
    "herself him himself how itself just me more most my myself no nor not now off once only "
    "other ought ours ourselves out over own same should some than theirs themselves those "
    "through too under until up very what when where whom why would yours yourself "
    "yourselves"
)


@dataclass(frozen=True)
class SparseConfig:
    """How chunk and query text become sparse vectors; stored with the collection.

    `stemmer` is a Snowball language ("english", "german", ...; used from v3) or None.
    """

    k1: float = 1.2
    b: float = 0.75
    avg_doc_tokens: float = 120.0
    index_bits: int = 31
    version: str = V3
    stemmer: str | None = "english"

    def __post_init__(self) -> None:
        if self.stemmer is not None and self.stemmer not in snowballstemmer.algorithms():
            raise ValueError(
                f"no Snowball stemmer for {self.stemmer!r}; use one of "
                f"{', '.join(snowballstemmer.algorithms())}, or none"
            )

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form for the collection record (as versions before v3 wrote it)."""
        data = asdict(self)
        if self.version in (V1, V2):
            del data["stemmer"]
        return data


@lru_cache(maxsize=262_144)
def _term_index(term: str, index_bits: int) -> int:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << index_bits) - 1)


_stemmers = threading.local()  # Snowball stemmers are not thread-safe: one per thread


@lru_cache(maxsize=262_144)
def _stem(word: str, language: str) -> str:
    stemmers = _stemmers.__dict__
    if language not in stemmers:
        stemmers[language] = snowballstemmer.stemmer(language)
    return str(stemmers[language].stemWord(word))


def tokenize(text: str, version: str = V3, stemmer: str | None = "english") -> list[str]:
    """Lower-cased word tokens without stopwords (letters and digits, any script).

    From v2, a token that glues letters to digits also gives its runs: "FY2018" is
    "fy2018", "fy" and "2018", so it matches "2018" in a table; "10-K" is "10", "k".
    From v3, words are stemmed ("terminated" and "termination" are "termin"), the stop
    list is Snowball's, and identifiers that join parts holding a digit with - . / are
    also kept whole ("10-K" is "10-k", "10", "k").
    """
    lowered = text.lower()
    stopwords = STOPWORDS_V3 if version == V3 else _STOPWORDS
    words = [t for t in _TOKEN.findall(lowered) if t not in stopwords]
    if version == V1:
        return words
    terms = []
    for word in words:
        runs = _LETTERS_OR_DIGITS.findall(word)
        if version == V3 and stemmer is not None and len(runs) == 1 and not word.isdigit():
            word = _stem(word, stemmer)
        terms.append(word)
        if len(runs) > 1:
            terms.extend(run for run in runs if run not in stopwords)
    if version == V3:
        terms.extend(
            identifier
            for identifier in _IDENTIFIER.findall(lowered)
            if any(ch.isdigit() for ch in identifier)
        )
    return terms


class SparseEncoder:
    """Encodes passages (BM25 term-frequency weights) and queries (1.0 per term)."""

    def __init__(self, config: SparseConfig | None = None) -> None:
        self.config = config or SparseConfig()

    @classmethod
    def for_language(cls, stemmer: str) -> SparseEncoder:
        """The current encoding with a Snowball stemmer ("none": words as written)."""
        return cls(SparseConfig(stemmer=None if stemmer == "none" else stemmer))

    @classmethod
    def matching(cls, recorded: dict[str, Any]) -> SparseEncoder | None:
        """The encoder a collection was built with, when this version of adaptrag has it."""
        if recorded.get("version") not in VERSIONS:
            return None
        try:
            return cls(SparseConfig(**{"stemmer": None, **recorded}))
        except (TypeError, ValueError):  # fields of another version, an unknown language
            return None

    def encode_passage(self, text: str) -> SparseVector:
        """BM25 saturated term frequency per hashed term; IDF is applied by Qdrant."""
        terms = tokenize(text, self.config.version, self.config.stemmer)
        if not terms:
            return SparseVector([], [])
        c = self.config
        length_norm = c.k1 * (1 - c.b + c.b * len(terms) / c.avg_doc_tokens)
        weights: dict[int, float] = {}
        for term, tf in Counter(terms).items():
            index = _term_index(term, c.index_bits)
            weights[index] = weights.get(index, 0.0) + tf * (c.k1 + 1) / (tf + length_norm)
        return _sorted_vector(weights)

    def encode_query(self, text: str) -> SparseVector:
        """Weight 1.0 per distinct query term, so the score is the sum of IDF-weighted TFs."""
        terms = tokenize(text, self.config.version, self.config.stemmer)
        weights = {_term_index(term, self.config.index_bits): 1.0 for term in terms}
        return _sorted_vector(weights)


def _sorted_vector(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices, [weights[i] for i in indices])
