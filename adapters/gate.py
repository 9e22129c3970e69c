"""The promotion gate: does a new adapter beat the base model on held-out rows?

Both answer every held-out row through the real pipeline (greedy decoding, under the
training run's fixed thread count). Each row gets token F1, exact match and "value
correct" (a gold answer appears in the answer), and label accuracy for yes/no/maybe rows.
The adapter passes by the one promotion rule (`eval.stats.promotion`, which embedding
tuning uses too): the paired 95% BCa bootstrap interval of the mean difference in a row's
score, (F1 + value correct) / 2 (adapter − base, row by row, seeded), lies above zero: a
decision that one or two lucky rows cannot flip, the same on every run, and no promotion
of an adapter whose gain is in answer form (F1) while it states more values wrong (the
demo's legal adapter: F1 +0.103, value correct -0.167 on its gate rows).
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adaptrag.eval.scoring import answer_scores
from adaptrag.eval.stats import paired_bootstrap_ci, promotion
from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.retrieval.collection_info import domain_snapshot
from adaptrag.rag.types import Answer, QARow

if TYPE_CHECKING:
    from adaptrag.rag.answering.pipeline import Pipeline

GATE_RULE = (
    "promoted when the paired 95% BCa bootstrap interval of the mean difference (adapter - "
    "base) in (F1 + value correct) / 2 over the held-out rows lies above 0"
)
MIN_GATE_ROWS = 30  # held out when the data has 4x as many rows (see `split_rows`)


def row_scores(answers: Sequence[Answer], rows: Sequence[QARow]) -> dict[str, list[float]]:
    """Per row, `eval.scoring.answer_scores`: EM, F1, value correct, value in sources and,
    for rows with a yes/no/maybe gold, label correct."""
    names = {"exact_match": "em", "label_correct": "label"}
    scores: dict[str, list[float]] = {
        "em": [],
        "f1": [],
        "value_correct": [],
        "value_in_sources": [],
        "label": [],
    }
    for answer, row in zip(answers, rows, strict=True):
        sources = [s.text for s in answer.sources]
        for name, value in answer_scores(answer.text, sources, row.answers).items():
            if value is not None:
                scores[names.get(name, name)].append(value)
    return scores


def _mean_difference(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """Mean of the row-by-row differences (adapter - base), to 4 places."""
    return round((sum(ours) - sum(theirs)) / max(len(ours), 1), 4)


def _row_score(scores: dict[str, list[float]]) -> list[float]:
    """Each row's (F1 + value correct) / 2: the answer's form and its value, weighed alike."""
    return [
        (f1 + value) / 2 for f1, value in zip(scores["f1"], scores["value_correct"], strict=True)
    ]


def mean_scores(scores: dict[str, list[float]], rows: int) -> dict[str, Any]:
    """Means rounded to 4 places, `n` rows, and `label_accuracy` where rows had labels."""
    means: dict[str, Any] = {
        name: round(sum(values) / max(len(values), 1), 4)
        for name, values in scores.items()
        if name != "label"
    }
    means["n"] = rows
    if scores["label"]:
        means["label_accuracy"] = round(sum(scores["label"]) / len(scores["label"]), 4)
        means["label_rows"] = len(scores["label"])
    return means


@dataclass(frozen=True)
class GateResult:
    """Both systems' held-out scores, the F1 difference, its interval and the decision."""

    rows: int
    adapter: dict[str, Any]
    base: dict[str, Any]
    f1_difference: float
    ci95: tuple[float, float]
    passed: bool
    value_difference: float = 0.0
    score_difference: float = 0.0  # (F1 + value correct) / 2, what decides
    score_ci95: tuple[float, float] = (0.0, 0.0)
    verdict: str = ""  # promoted, undecided (add rows) or rejected: `eval.stats.Promotion`
    detectable_gain: float = 0.0  # the smallest score gain these rows can show as sure
    rows_needed: int | None = None  # rows that would decide an undecided gain

    @classmethod
    def of(
        cls, adapter: Sequence[Answer], base: Sequence[Answer], rows: Sequence[QARow]
    ) -> GateResult:
        """Score both systems' answers to `rows` and decide."""
        ours, theirs = row_scores(adapter, rows), row_scores(base, rows)
        low, high = paired_bootstrap_ci(theirs["f1"], ours["f1"])
        mine, base_ = _row_score(ours), _row_score(theirs)
        verdict = promotion(base_, mine)
        return cls(
            rows=len(rows),
            adapter=mean_scores(ours, len(rows)),
            base=mean_scores(theirs, len(rows)),
            f1_difference=_mean_difference(ours["f1"], theirs["f1"]),
            ci95=(round(low, 4), round(high, 4)),
            passed=verdict.promoted,
            value_difference=_mean_difference(ours["value_correct"], theirs["value_correct"]),
            score_difference=verdict.difference,
            score_ci95=verdict.ci95,
            verdict=verdict.verdict,
            detectable_gain=verdict.detectable,
            rows_needed=verdict.rows_needed,
        )

    def to_scores(self) -> dict[str, Any]:
        """The adapter metadata's `scores`: both systems and the `gate` decision."""
        return {
            "adapter": self.adapter,
            "base": self.base,
            "gate": {
                "rows": self.rows,
                "f1_difference": self.f1_difference,
                "ci95": list(self.ci95),
                "value_correct_difference": self.value_difference,
                "score_difference": self.score_difference,
                "score_ci95": list(self.score_ci95),
                "passed": self.passed,
                "verdict": self.verdict,
                "detectable_gain": self.detectable_gain,
                "rows_needed": self.rows_needed,
                "rule": GATE_RULE,
            },
        }


def describe_gate(scores: dict[str, Any]) -> str:
    """One line: both F1s, the difference with its interval, and the verdict."""
    adapter, base, gate = scores["adapter"], scores["base"], scores.get("gate")
    line = f"adapter F1 {adapter['f1']:.3f} vs base {base['f1']:.3f} on {adapter['n']} rows"
    if gate is None:  # metadata written before the interval was part of the gate
        return line
    low, high = gate["ci95"]
    verdict = "passes" if gate["passed"] else "does not pass"
    said = ""
    if "score_ci95" in gate:  # gates before values were part of the rule have none
        s_low, s_high = gate["score_ci95"]
        said = (
            f", value correct {gate['value_correct_difference']:+.3f}; both "
            f"{gate['score_difference']:+.3f} [{s_low:+.3f}, {s_high:+.3f}]"
        )
    if gate.get("detectable_gain"):  # gates before it was reported have none
        said += f"; {gate['rows']} rows show gains above {gate['detectable_gain']:+.3f}"
    if gate.get("verdict") == "undecided":
        more = gate["rows_needed"] - gate["rows"]
        verdict = f"undecided, does not pass yet: add about {more} held-out rows to decide"
    return f"{line}: {gate['f1_difference']:+.3f} [{low:+.3f}, {high:+.3f}]{said} -> {verdict}"


# The base model's gate answers, per pipeline: a sweep or a retrain gates many adapters on
# the same rows, and the base answers only change with the questions, the settings or the
# domain's documents (all in the key). Greedy decoding makes them the same every time.
_BASE_ANSWERS: weakref.WeakKeyDictionary[Pipeline, dict[str, list[Answer]]] = (
    weakref.WeakKeyDictionary()
)
_BASE_ANSWERS_KEPT = 8


def _base_key(qa: Pipeline, questions: Sequence[str], domain: str) -> str:
    identity = [
        qa.settings.model_dump_json(),
        qa.collection,
        domain,
        domain_snapshot(qa.retriever.store, domain),
        list(questions),
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def base_answers(qa: Pipeline, questions: Sequence[str], domain: str) -> list[Answer]:
    """The base model's answers to `questions` (remembered per pipeline, see above)."""
    key = _base_key(qa, questions, domain)
    kept = _BASE_ANSWERS.setdefault(qa, {})
    if key not in kept:
        answers = qa.ask_many(list(questions), domain=domain, backend="local", adapter=BASE_ADAPTER)
        while len(kept) >= _BASE_ANSWERS_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = answers
    return kept[key]


def run_gate(qa: Pipeline, ref: str, rows: Sequence[QARow], domain: str) -> GateResult:
    """Held-out answers of the adapter `ref` and of the base model, through the pipeline."""
    questions = [r.question for r in rows]
    adapter = qa.ask_many(questions, domain=domain, backend="local", adapter=ref)
    base = base_answers(qa, questions, domain)
    return GateResult.of(adapter, base, rows)
