"""The Python API end to end: real Edge store, MiniLM, SmolLM2, and Claude via the fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic

from ingest import ingest_paths
from rag import Pipeline
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import ConfigError
from rag.generators.local import LocalGenerator
from rag.prompts import NO_ANSWER
from rag.settings import Settings
from rag.types import Answer

QUESTION = "How many days notice does the tenant give to terminate?"


@pytest.fixture
def indexed(corpus: Path, settings: Settings, embedder: SentenceTransformerEmbedder) -> Settings:
    """The test corpus ingested as `legal`, plus one `finance` document."""
    ingest_paths([corpus], "legal", settings=settings, embedder=embedder)
    finance = corpus.parent / "finance"
    finance.mkdir()
    (finance / "credit.md").write_text(
        "# Credit policy\n\nLoans above two million need approval by the credit committee.\n"
    )
    ingest_paths([finance], "finance", settings=settings, embedder=embedder)
    return settings


@pytest.fixture
def qa(
    indexed: Settings, embedder: SentenceTransformerEmbedder, local_generator: LocalGenerator
) -> Iterator[Pipeline]:
    pipeline = Pipeline(
        indexed.model_copy(update={"max_new_tokens": 24}),
        embedder=embedder,
        generators={"local": local_generator},
    )
    yield pipeline
    pipeline.close()


def test_ask_local_returns_a_full_answer(qa: Pipeline) -> None:
    answer = qa.ask(QUESTION, domain="legal", backend="local")

    assert answer.text
    assert answer.backend == "local" and answer.route == "requested"
    assert answer.model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert answer.adapter is None
    assert answer.sources[0].doc_id == "lease.md"
    assert answer.sources[0].metadata["source"].endswith("lease.md")
    assert {s.metadata["domain"] for s in answer.sources} == {"legal"}
    assert set(answer.timings) == {"embed_ms", "search_ms", "generate_ms", "total_ms"}
    assert answer.timings["generate_ms"] > 0
    assert answer.timings["total_ms"] >= answer.timings["generate_ms"]
    assert 0 < answer.usage.output_tokens <= 24
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["sources"][0]["doc_id"] == "lease.md"
    assert data["dropped"] == [] and "citations" in data


def test_ask_claude_cites_sources_and_reports_usage_and_cost(
    qa: Pipeline, claude_env: FakeAnthropic
) -> None:
    answer = qa.ask(QUESTION, domain="legal", backend="claude")

    assert answer.backend == "claude"
    assert answer.text.endswith("[1]")
    assert [(c.marker, c.chunk_id, c.valid) for c in answer.citations] == [
        (1, answer.sources[0].chunk_id, True)
    ]
    assert answer.usage.input_tokens > 0 and answer.usage.cost_usd > 0
    sent = claude_env.requests[-1]["body"]["messages"][0]["content"]
    assert "ninety days notice" in sent and "credit committee" not in sent


def test_a_citation_pointing_nowhere_is_flagged(qa: Pipeline, claude_env: FakeAnthropic) -> None:
    claude_env.reply = lambda body: "Ninety days [1], or maybe [7]."
    answer = qa.ask(QUESTION, backend="claude")
    assert answer.invalid_citations == [7]
    assert answer.to_dict()["invalid_citations"] == [7]


def test_auto_uses_claude_only_with_a_key_and_the_preference(
    qa: Pipeline,
    claude_env: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> None:
    assert qa.ask(QUESTION, backend="auto").backend == "claude"

    local_first = qa.settings.model_copy(update={"prefer_claude": False})
    with Pipeline(local_first, embedder=embedder, generators={"local": local_generator}) as other:
        preferred = other.ask(QUESTION, backend="auto")
    assert preferred.backend == "local" and "prefer_claude is off" in preferred.route

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    without_key = qa.ask(QUESTION, backend="auto")
    assert without_key.backend == "local" and "no ANTHROPIC_API_KEY" in without_key.route


def test_stream_yields_deltas_then_the_answer(qa: Pipeline) -> None:
    events = list(qa.stream(QUESTION, domain="legal", backend="local"))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert all(isinstance(e, str) for e in events[:-1]) and len(events) > 2
    assert "".join(str(e) for e in events[:-1]).strip() == answer.text
    assert answer.sources[0].doc_id == "lease.md"


def test_stream_from_claude_goes_over_sse(qa: Pipeline, claude_env: FakeAnthropic) -> None:
    events = list(qa.stream(QUESTION, backend="claude"))
    assert isinstance(events[-1], Answer) and events[-1].text.endswith("[1]")
    assert claude_env.requests[-1]["body"]["stream"] is True


def test_ask_many_batches_and_keeps_order(qa: Pipeline) -> None:
    questions = [QUESTION, "How long does confidentiality last?", "When are refunds paid?"]
    answers = qa.ask_many(questions, backend="local")

    assert [a.sources[0].doc_id for a in answers] == ["lease.md", "nda.txt", "r1"]
    assert answers[1].text == qa.ask(questions[1], backend="local").text
    assert qa.ask_many([], backend="local") == []


def test_ask_many_with_claude_answers_every_question(
    qa: Pipeline, claude_env: FakeAnthropic
) -> None:
    answers = qa.ask_many([QUESTION, "How long does confidentiality last?"], backend="claude")
    assert "The tenant gives ninety days notice" in answers[0].text
    assert "Confidentiality lasts four years" in answers[1].text


def test_sources_beyond_the_prompt_budget_are_dropped_and_reported(
    indexed: Settings, embedder: SentenceTransformerEmbedder, local_generator: LocalGenerator
) -> None:
    tight = indexed.model_copy(update={"context_tokens": 256, "max_new_tokens": 4, "top_k": 6})
    with Pipeline(tight, embedder=embedder, generators={"local": local_generator}) as qa:
        answer = qa.ask("policy terms", backend="local")
    assert answer.dropped, "six sources cannot fit in 256 tokens"
    assert answer.usage.input_tokens <= 256
    kept = {s.chunk_id for s in answer.sources}
    assert kept.isdisjoint(s.chunk_id for s in answer.dropped)
    assert len(answer.to_dict()["dropped"]) == len(answer.dropped)


def test_nothing_retrieved_means_no_answer_and_no_model_call(
    qa: Pipeline, claude_env: FakeAnthropic
) -> None:
    answer = qa.ask(QUESTION, backend="claude", mode="dense", score_threshold=0.999)
    assert answer.text == NO_ANSWER and answer.sources == []
    assert claude_env.requests == []


def test_bad_arguments_are_one_line_errors(qa: Pipeline) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'gpt'"):
        qa.ask(QUESTION, backend="gpt")
    with pytest.raises(ConfigError, match="unknown search option"):
        qa.ask(QUESTION, color="blue")
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        qa.ask(QUESTION, backend="claude")


def test_a_pipeline_from_settings_alone_builds_its_own_parts(indexed: Settings) -> None:
    with Pipeline(indexed) as qa:
        sources = qa.retrieve(QUESTION, domain="legal", top_k=2)
    assert sources[0].doc_id == "lease.md" and len(sources) <= 2
