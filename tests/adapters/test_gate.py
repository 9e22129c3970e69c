"""The promotion gate's decision, on answers written by hand (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptrag.adapters.gate import GATE_RULE, GateResult, describe_gate
from adaptrag.adapters.registry import AdapterInfo
from adaptrag.adapters.training import reproducible, split_rows
from adaptrag.rag.types import Answer, QARow, Source


def _rows(n: int) -> list[QARow]:
    return [
        QARow(f"r{i}", f"What is the limit {i}?", [f"{i + 10} days"], "legal") for i in range(n)
    ]


def _answer(text: str, source: str = "") -> Answer:
    return Answer(
        text=text,
        sources=[Source("doc", "c1", source, 1.0, {})] if source else [],
        citations=[],
        backend="local",
        model="m",
    )


def test_an_adapter_right_on_most_rows_passes_with_an_interval_above_zero() -> None:
    rows = _rows(30)
    adapter = [_answer(f"{i + 10} days [1]") if i % 10 else _answer("no idea") for i in range(30)]
    base = [
        _answer(f"It is probably {i + 90} days.", f"The limit is {i + 10} days.") for i in range(30)
    ]
    gate = GateResult.of(adapter, base, rows)
    assert gate.passed and gate.ci95[0] > 0 and gate.rows == 30
    assert gate.adapter["em"] == pytest.approx(0.9, abs=1e-4)
    assert gate.adapter["value_correct"] == pytest.approx(0.9, abs=1e-4)
    assert gate.base["value_correct"] == 0.0 and gate.base["value_in_sources"] == 1.0
    scores = gate.to_scores()
    assert scores["gate"] == {
        "rows": 30,
        "f1_difference": gate.f1_difference,
        "ci95": list(gate.ci95),
        "value_correct_difference": 0.9,
        "score_difference": gate.score_difference,
        "score_ci95": list(gate.score_ci95),
        "passed": True,
        "verdict": "promoted",
        "detectable_gain": gate.detectable_gain,
        "rows_needed": None,
        "rule": GATE_RULE,
    }
    assert 0 < gate.detectable_gain < gate.score_difference
    assert gate.score_ci95[0] > 0
    assert ", value correct +0.900; both +" in describe_gate(scores)
    assert describe_gate(scores).endswith("-> passes")


def test_an_adapter_better_in_form_but_wrong_in_value_more_often_is_not_promoted() -> None:
    rows = _rows(30)
    # The base states the value in a long sentence (low F1, value right); the adapter
    # answers in the gold's short form, right on 2 rows of 3 and wrong on the rest.
    base = [_answer(f"The limit set out in clause {i} is {i + 10} days.") for i in range(30)]
    adapter = [_answer(f"{i + 10} days" if i % 3 else f"{i + 11} days") for i in range(30)]
    gate = GateResult.of(adapter, base, rows)
    assert gate.ci95[0] > 0  # the F1 gain is sure...
    assert gate.value_difference < 0 and gate.score_ci95[0] <= 0  # ...but values are lost
    assert not gate.passed
    # Its combined score gains a little, which 30 rows cannot tell from nothing: the gate
    # says so, and how many rows would decide, rather than "rejected".
    assert gate.verdict == "undecided" and gate.rows_needed is not None
    assert gate.rows_needed > 30 and gate.detectable_gain > gate.score_difference > 0
    line = describe_gate(gate.to_scores())
    assert "does not pass yet: add about" in line and "30 rows show gains above +" in line


def test_a_higher_mean_from_one_lucky_row_is_not_a_promotion() -> None:
    rows = _rows(30)
    base = [_answer(f"{i + 10} days") if i % 2 else _answer("wrong") for i in range(30)]
    adapter = list(base)
    adapter[0] = _answer("10 days")  # one more row right: the mean is higher...
    gate = GateResult.of(adapter, base, rows)
    assert gate.f1_difference > 0
    assert not gate.passed and gate.ci95[0] <= 0  # ...but the interval reaches zero
    info = AdapterInfo("legal", 1, "legal", "m", "f", scores=gate.to_scores())
    assert not info.beats_base()  # the registry follows the gate, not the means
    assert "does not pass" in describe_gate(info.scores)


def test_metadata_from_before_the_interval_keeps_the_old_rule() -> None:
    old = AdapterInfo(
        "legal", 1, "legal", "m", "f", scores={"adapter": {"f1": 0.4, "n": 8}, "base": {"f1": 0.3}}
    )
    assert old.beats_base()
    assert describe_gate(old.scores) == "adapter F1 0.400 vs base 0.300 on 8 rows"


def test_yes_no_maybe_rows_are_scored_by_their_label() -> None:
    rows = [
        QARow("p1", "Does it help?", ["yes", "It helped in 80% of patients."], "medical"),
        QARow("p2", "Is it safe?", ["no", "Harms were common."], "medical"),
        QARow("p3", "How many?", ["twelve"], "medical"),
    ]
    answers = [_answer("Yes [1]."), _answer("Maybe, no data."), _answer("twelve")]
    gate = GateResult.of(answers, answers, rows)
    assert gate.adapter["label_accuracy"] == 0.5 and gate.adapter["label_rows"] == 2
    assert not gate.passed  # equal systems never pass


def test_the_held_out_split_holds_30_rows_when_the_data_allows() -> None:
    rows = _rows(124)
    train, held = split_rows(rows, 0.1, seed=0)
    assert (len(train), len(held)) == (94, 30)
    assert split_rows(rows, 0.1, seed=0) == (train, held)  # seeded
    assert len(split_rows(_rows(40), 0.1, seed=0)[1]) == 10  # a quarter of small data
    assert len(split_rows(_rows(400), 0.2, seed=0)[1]) == 80  # a larger share is kept


def test_reproducible_fixes_threads_and_restores_them_even_on_error(tmp_path: Path) -> None:
    import torch

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    with pytest.raises(RuntimeError), reproducible(1):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        raise RuntimeError("boom")
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
