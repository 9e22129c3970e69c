"""Answer scores shared by adapter promotion and evaluation.

SQuAD's EM and token F1, and two that say whether the answer carries the document's value:
`contains_answer` (a gold answer appears, as whole words, in the answer: "value correct";
or in the sources the model was given: "value in sources"), and `label_correct` for
yes/no/maybe questions (PubMedQA's labels: the first label word of the answer is the gold
label).

Answers and gold are compared after SQuAD v1.1's normalization (`rag.answering.normalize`). Each
score is the best over the gold answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from adaptrag.rag.answering.normalize import normalize_answer


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


LABELS = ("yes", "no", "maybe")


def contains_answer(text: str, gold: Sequence[str]) -> float:
    """1.0 when a normalized gold answer appears in the normalized text as whole words."""
    padded = f" {normalize_answer(text)} "
    return float(any(f" {g} " in padded for g in map(normalize_answer, gold) if g))


def answer_label(text: str) -> str | None:
    """The first of yes/no/maybe in the normalized text, if any."""
    return next((word for word in normalize_answer(text).split() if word in LABELS), None)


def label_correct(prediction: str, gold: Sequence[str]) -> float | None:
    """For a row whose first gold answer is yes, no or maybe: 1.0 when the prediction's
    first label word is that label; None for other rows."""
    label = normalize_answer(gold[0]) if gold else ""
    if label not in LABELS:
        return None
    return float(answer_label(prediction) == label)


def answer_scores(
    text: str, sources: Sequence[str], gold: Sequence[str]
) -> dict[str, float | None]:
    """The answer scores of one row, as evaluation reports and the adapter gate use them:
    exact_match, f1, value_correct, value_in_sources (a gold answer in the texts of the
    sources the model was given) and label_correct (None for rows without a label)."""
    return {
        "exact_match": exact_match(text, gold),
        "f1": token_f1(text, gold),
        "value_correct": contains_answer(text, gold),
        "value_in_sources": contains_answer("\n".join(sources), gold),
        "label_correct": label_correct(text, gold),
    }
