"""Answer scores shared by adapter promotion and evaluation: SQuAD's EM and token F1.

Normalization (SQuAD v1.1): lower-case, drop punctuation and the articles a/an/the,
collapse whitespace. Citation markers like `[1]` are removed first: they are not part of
the answer. Each score is the best over the gold answers.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from rag.citations import CITATION_PATTERN

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalization, after removing citation markers."""
    text = CITATION_PATTERN.sub(" ", text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized gold answer."""
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(g) for g in gold))


def token_f1(prediction: str, gold: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and a gold answer."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for answer in gold:
        reference = normalize_answer(answer).split()
        if not predicted or not reference:
            best = max(best, float(predicted == reference))
            continue
        common = sum((Counter(predicted) & Counter(reference)).values())
        if common:
            precision, recall = common / len(predicted), common / len(reference)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
