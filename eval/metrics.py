"""Answer-quality metrics, each a plain function of one row (formulas in the docstrings).

Retrieval metrics judge the ranked sources against the gold: by `doc_id` when the row has
one (and by its `page` too when the row gives one: a source of another page of the right
document is not a hit), else by whether a source's text contains a gold `evidence`
passage (or at least half of its tokens). Answer metrics use SQuAD normalization
(`eval.scoring`). Grounding metrics need no LLM: they compare answer sentences with the
retrieved text by token overlap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from adaptrag.eval.scoring import contains_answer, exact_match, label_correct, token_f1
from adaptrag.rag.answering.citations import CITATION_PATTERN, cited_numbers
from adaptrag.rag.answering.normalize import normalize_answer
from adaptrag.rag.prompts import NO_ANSWER
from adaptrag.rag.types import QARow, Source

__all__ = [
    "citation_precision",
    "contains_answer",
    "exact_match",
    "gold_count",
    "grounded_share",
    "hit_at_k",
    "is_refusal",
    "judged_by_document",
    "label_correct",
    "mrr",
    "ndcg_at_k",
    "recall_at_k",
    "relevant_ranks",
    "rouge_l",
    "semantic_similarity",
    "token_f1",
]

SUPPORT_THRESHOLD = 0.5  # share of a sentence's tokens found in a source to call it supported
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def _holds_evidence(text: str, evidence: str) -> bool:
    """The source contains the passage, or at least half of the passage's distinct tokens."""
    source, passage = normalize_answer(text), normalize_answer(evidence)
    if not passage:
        return False
    if passage in source:
        return True
    wanted = set(passage.split())
    return len(wanted & set(source.split())) / len(wanted) >= 0.5


def judged_by_document(row: QARow, *, within_document: bool = False) -> bool:
    """Whether a source is relevant for being of the row's document; else, for a search
    already scoped to that document (`within_document`) or a row without one, relevance is
    holding an evidence passage."""
    return bool(row.doc_id) and not (within_document and row.evidence)


def _of_gold_document(row: QARow, source: Source) -> bool:
    """The source is of the row's document, and of its page when the row names one."""
    return source.doc_id == row.doc_id and (row.page is None or source.page == row.page)


def relevant_ranks(
    row: QARow, sources: Sequence[Source], *, within_document: bool = False
) -> list[int] | None:
    """1-based ranks of the relevant sources (see `judged_by_document`); None when the row
    has no retrieval gold."""
    if judged_by_document(row, within_document=within_document):
        return [n for n, s in enumerate(sources, 1) if _of_gold_document(row, s)]
    if row.evidence:
        return [
            n
            for n, s in enumerate(sources, 1)
            if any(_holds_evidence(s.text, e) for e in row.evidence)
        ]
    return None


def gold_count(row: QARow, *, within_document: bool = False) -> int:
    """Gold items of a row: its document (1), or its evidence passages (at least 1)."""
    if judged_by_document(row, within_document=within_document):
        return 1
    return max(len(row.evidence), 1)


def hit_at_k(ranks: Sequence[int], k: int) -> float:
    """1 if any relevant source is in the top k, else 0."""
    return float(any(r <= k for r in ranks))


def recall_at_k(
    row: QARow, sources: Sequence[Source], k: int, *, within_document: bool = False
) -> float | None:
    """Share of gold items found in the top k: the gold document (1 item), or each gold
    evidence passage that some top-k source holds (`within_document`: see relevant_ranks)."""
    top = sources[:k]
    if judged_by_document(row, within_document=within_document):
        return float(any(_of_gold_document(row, s) for s in top))
    if row.evidence:
        found = sum(any(_holds_evidence(s.text, e) for s in top) for e in row.evidence)
        return found / len(row.evidence)
    return None


def mrr(ranks: Sequence[int]) -> float:
    """Reciprocal rank of the first relevant source: 1 / min(rank), 0 when none."""
    return 1.0 / min(ranks) if ranks else 0.0


def ndcg_at_k(ranks: Sequence[int], k: int, gold_count: int = 1) -> float:
    """Binary-relevance nDCG@k: DCG = sum over relevant ranks r <= k of 1/log2(r + 1),
    divided by the ideal DCG of R relevant sources at ranks 1..min(R, k), where R is the
    larger of the gold count and the relevant sources found (several chunks of the gold
    document are all relevant), so the value stays within [0, 1]."""
    found = [r for r in ranks if r <= k]
    dcg = sum(1.0 / math.log2(r + 1) for r in found)
    relevant = min(max(gold_count, len(found)), k)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, relevant + 1))
    return dcg / ideal if ideal else 0.0


def rouge_l(prediction: str, gold: Sequence[str]) -> float:
    """Best ROUGE-L F1 over the gold answers: LCS of normalized tokens, F1 of its precision
    (LCS / prediction length) and recall (LCS / gold length)."""
    predicted = _tokens(prediction)
    best = 0.0
    for answer in gold:
        reference = _tokens(answer)
        if not predicted or not reference:
            continue
        lcs = _lcs(predicted, reference)
        if lcs:
            precision, recall = lcs / len(predicted), lcs / len(reference)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def semantic_similarity(answer: np.ndarray, gold: np.ndarray) -> float:
    """Best cosine similarity between the answer's embedding and each gold answer's
    (rows of `gold`), embedded with the collection's embedding model: max_g a.g / (|a| |g|)."""
    norms = np.linalg.norm(gold, axis=1) * float(np.linalg.norm(answer))
    cosines = gold @ answer / np.where(norms == 0, 1.0, norms)
    return float(cosines.max()) if len(cosines) else 0.0


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def is_refusal(answer: str) -> bool:
    """Whether the answer is the prompt's fixed refusal ("I don't know.")."""
    return normalize_answer(answer).startswith(normalize_answer(NO_ANSWER))


def _sentences(answer: str) -> list[str]:
    text = CITATION_PATTERN.sub(" ", answer)
    return [s for s in _SENTENCE.split(text.strip()) if _tokens(s)]


def _supported(sentence: str, texts: Sequence[str]) -> bool:
    words = set(_tokens(sentence))
    if not words:
        return False
    return any(len(words & set(_tokens(t))) / len(words) >= SUPPORT_THRESHOLD for t in texts)


def grounded_share(answer: str, sources: Sequence[Source]) -> float | None:
    """Share of the answer's sentences (citations removed) whose tokens are at least
    SUPPORT_THRESHOLD covered by one retrieved source; None for a refusal or empty answer."""
    sentences = _sentences(answer)
    if not sentences or is_refusal(answer):
        return None
    texts = [s.text for s in sources]
    return sum(_supported(s, texts) for s in sentences) / len(sentences)


def citation_precision(answer: str, sources: Sequence[Source]) -> float | None:
    """Share of citations `[n]` whose source supports the claim that cites it: the citing
    sentence without its markers, or the sentence before when the marker stands alone. A
    marker pointing at no source counts as unsupported; None when the answer cites nothing."""
    checked = supported = 0
    claim = ""
    for sentence in _SENTENCE.split(answer.strip()):
        claim = CITATION_PATTERN.sub(" ", sentence).strip(" .") or claim
        for group in CITATION_PATTERN.findall(sentence):
            for n in cited_numbers(group):
                checked += 1
                if 1 <= n <= len(sources) and _supported(claim, [sources[n - 1].text]):
                    supported += 1
    return supported / checked if checked else None
