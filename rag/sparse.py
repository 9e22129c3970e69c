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
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from rag.types import SparseVector

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
V1 = "bm25-blake2b-v1"  # word tokens
V2 = "bm25-blake2b-v2"  # word tokens, and the letter and digit runs of glued ones
VERSIONS = (V1, V2)

# Function words carry no retrieval signal in BM25 over short chunks.
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "which",
        "while",
        "who",
        "will",
        "with",
        "you",
        "your",
    }
)


@dataclass(frozen=True)
class SparseConfig:
    """How chunk and query text become sparse vectors; stored with the collection."""

    k1: float = 1.2
    b: float = 0.75
    avg_doc_tokens: float = 120.0
    index_bits: int = 31
    version: str = V2

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form for the collection record."""
        return asdict(self)


@lru_cache(maxsize=262_144)
def _term_index(term: str, index_bits: int) -> int:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << index_bits) - 1)


def tokenize(text: str, version: str = V2) -> list[str]:
    """Lower-cased word tokens without stopwords (letters and digits, any script).

    From v2, a token that glues letters to digits also gives its runs: "FY2018" is
    "fy2018", "fy" and "2018", so it matches "2018" in a table; "10-K" stays "10", "k".
    """
    words = [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]
    if version == V1:
        return words
    terms = []
    for word in words:
        terms.append(word)
        runs = _LETTERS_OR_DIGITS.findall(word)
        if len(runs) > 1:
            terms.extend(run for run in runs if run not in _STOPWORDS)
    return terms


class SparseEncoder:
    """Encodes passages (BM25 term-frequency weights) and queries (1.0 per term)."""

    def __init__(self, config: SparseConfig | None = None) -> None:
        self.config = config or SparseConfig()

    @classmethod
    def matching(cls, recorded: dict[str, Any]) -> SparseEncoder | None:
        """The encoder a collection was built with, when this version of adaptrag has it."""
        if recorded.get("version") not in VERSIONS:
            return None
        try:
            return cls(SparseConfig(**recorded))
        except TypeError:  # fields of another version
            return None

    def encode_passage(self, text: str) -> SparseVector:
        """BM25 saturated term frequency per hashed term; IDF is applied by Qdrant."""
        terms = tokenize(text, self.config.version)
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
        terms = tokenize(text, self.config.version)
        weights = {_term_index(term, self.config.index_bits): 1.0 for term in terms}
        return _sorted_vector(weights)


def _sorted_vector(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices, [weights[i] for i in indices])
