"""The grounding verdict (issue 26): each value an answer states, looked up in its sources,
on every backend (the local model, Claude and an OpenAI-compatible server through their
fake APIs), with the action a setting chooses for unsupported values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.fake_anthropic import FakeAnthropic
from helpers.fake_openai import FakeOpenAI
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.langchain import answer_metadata
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.grounding import best_quote, check_values, values_in
from adaptrag.rag.prompts import NO_ANSWER
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Answer, Source

QUESTION = "How many days notice does the tenant give to terminate?"
LEASE = Source(
    "lease.md",
    "c1",
    "The tenant gives sixty (60) days' notice. Support answers within 4 hours. Rent of "
    "$32,000,000 is payable on March 3, 2027. Disputes go to the courts of Zurich.",
    1.0,
)
REPORT = Source("report.md", "c2", "Revenue grew 60 percent in fiscal 2026.", 0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sixty (60) days [1]", [("60 days", "duration")]),
        ("ninety days", [("90 days", "duration")]),
        ("$32 million, up 60% from 2026", [("$32 million", "amount"), ("60%", "percent")]),
        ("due 3 March 2027", [("3 March 2027", "date")]),
        ("by 2027-03-05 or in March 2027", [("2027-03-05", "date"), ("March 2027", "date")]),
        ("within 8 hours", [("8 hours", "duration")]),
        ('the courts of "Zurich"', [('"Zurich"', "quote")]),
        ("Revenue of $5m", [("$5m", "amount")]),
        ("I don't know.", []),
        ("Law and signature [1]", []),  # no value to check: the verdict says so (None)
    ],
)
def test_values_are_found_with_their_kind(text: str, expected: list[tuple[str, str]]) -> None:
    found = [(v.text, v.kind) for v in values_in(text)]
    assert found[: len(expected)] == expected
    assert all(kind != "number" or text.count(shown) for shown, kind in found)


@pytest.mark.parametrize(
    ("answer", "unsupported"),
    [
        ("Notice is 60 days [1].", []),
        ("Notice is sixty days.", []),  # words or digits, the same value
        ("Notice is 30 days [1].", ["30 days"]),
        ("Support answers within 8 hours.", ["8 hours"]),  # the showcase's wrong value
        ("Support answers within 4 days.", ["4 days"]),  # same number, other unit
        ("Rent is $32 million [1].", []),  # a scale word is the same amount
        ("Growth was 60%.", []),  # held by "60 percent" in source 2
        ("18 [1]", ["18"]),  # a bare number no source states
        ("Due on 3 March 2027.", []),
        ("Due on 4 March 2027.", ["4 March 2027"]),
        ("Due in 2027.", []),  # a year alone: held by a date of that year
        ('Disputes go to "the courts of Zurich".', []),
        ('Disputes go to "the courts of Geneva".', ['"the courts of Geneva"']),
    ],
)
def test_each_value_is_looked_up_in_the_sources(answer: str, unsupported: list[str]) -> None:
    verdict = check_values(answer, [LEASE, REPORT], cited=[1])
    assert [v.text for v in verdict.unsupported] == unsupported
    assert verdict.supported is (not unsupported)


def test_the_verdict_says_which_source_holds_a_value_and_whether_it_is_cited() -> None:
    verdict = check_values("60 days [1], and 60% growth [1].", [LEASE, REPORT], cited=[1])
    days, growth = verdict.values
    assert (days.sources, days.cited) == ([1], True)
    assert (growth.sources, growth.cited) == ([2], False)  # held, but not by the cited source
    assert check_values("No value here.", [LEASE]).supported is None


def test_the_best_quote_answers_the_question_from_a_sentence_with_a_value() -> None:
    quote = best_quote("How fast does support answer?", [REPORT, LEASE])
    assert quote == '"Support answers within 4 hours." [2]'
    assert best_quote("Who is the landlord?", [LEASE]) is None  # no shared word


def test_every_local_answer_carries_a_verdict(qa: Pipeline) -> None:
    answer = qa.ask(QUESTION, domain="legal", backend="local")
    assert answer.grounding is not None
    for value in answer.grounding.values:  # whatever the model wrote, checked against them
        assert value.supported == bool(check_values(value.text, answer.sources).supported)
    assert answer.to_dict()["grounding"]["action"] == "kept"


def test_claude_answers_are_checked_and_an_unsupported_value_is_flagged(
    qa: Pipeline, claude_env: FakeAnthropic
) -> None:
    claude_env.reply = lambda body: "The tenant gives 90 days notice [1]."
    held = qa.ask(QUESTION, domain="legal", backend="claude")
    assert held.grounding is not None and held.grounding.supported is True
    assert held.grounding.values[0].cited

    claude_env.reply = lambda body: "The tenant gives 30 days notice [1]."
    wrong = qa.ask(QUESTION, domain="legal", backend="claude")
    data = wrong.to_dict()["grounding"]
    assert data["supported"] is False and data["unsupported"] == ["30 days"]
    assert wrong.text == "The tenant gives 30 days notice [1]."  # flagged, kept (default)
    assert answer_metadata(wrong)["grounding"]["unsupported"] == ["30 days"]  # LangChain


def test_an_openai_backend_answer_is_checked_too(qa: Pipeline, openai_env: FakeOpenAI) -> None:
    openai_env.reply = lambda body, lora: "Rent is 9,000 euros [1]."
    served = qa.settings.replaced(**{"openai_base_url": openai_env.url})
    with Pipeline(served, embedder=qa.retriever.embedder) as other:
        answer = other.ask("What is the monthly rent?", domain="legal", backend="openai")
    assert answer.backend == "openai" and answer.grounding is not None
    assert [v.text for v in answer.grounding.unsupported] == ["9,000 euros"]


@pytest.mark.parametrize("action", ["quote", "refuse"])
def test_the_setting_replaces_an_unsupported_answer(
    qa: Pipeline, claude_env: FakeAnthropic, action: str
) -> None:
    claude_env.reply = lambda body: "The tenant gives 30 days notice [1]."
    strict = qa.settings.replaced(**{"grounding_action": action})
    with Pipeline(strict, embedder=qa.retriever.embedder) as other:
        answer = other.ask(QUESTION, domain="legal", backend="claude")
        *_, streamed = other.stream(QUESTION, domain="legal", backend="claude")
    assert answer.grounding is not None
    assert answer.grounding.model_text == "The tenant gives 30 days notice [1]."
    if action == "refuse":
        assert answer.text == NO_ANSWER and answer.grounding.action == "refused"
    else:
        assert answer.grounding.action == "quoted" and answer.grounding.supported is True
        assert "ninety days notice" in answer.text and answer.citations[0].valid
    assert isinstance(streamed, Answer) and streamed.text == answer.text  # the final event


def test_the_cli_flags_an_unsupported_value(
    indexed_corpus: Settings, claude_env: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude_env.reply = lambda body: "The tenant gives 30 days notice [1]."
    monkeypatch.setenv("ADAPTRAG_DATA_DIR", str(indexed_corpus.data_dir))
    monkeypatch.setenv("ADAPTRAG_MODEL_CACHE_DIR", str(indexed_corpus.local_model.model_cache_dir))
    result = CliRunner().invoke(app, ["ask", QUESTION, "--backend", "claude"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "The tenant gives 30 days notice [1]."
    assert lines[1] == "WARNING: not in any source: 30 days; check it before relying on it"
    assert os.environ["ADAPTRAG_DATA_DIR"] == str(Path(indexed_corpus.data_dir))
