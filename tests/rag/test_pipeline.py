"""The Python API end to end: real Edge store, MiniLM, SmolLM2, and Claude via the fake API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.corpora import index_corpus, pipeline_over
from helpers.fake_anthropic import FakeAnthropic

from adaptrag.rag import Pipeline
from adaptrag.rag.answering.query import OPTION_NAMES, SEARCH_FIELDS, Query, QueryOptions
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import NO_ANSWER
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Answer

QUESTION = "How many days notice does the tenant give to terminate?"


def test_ask_local_returns_a_full_answer(qa: Pipeline) -> None:
    answer = qa.ask(QUESTION, domain="legal", backend="local")

    assert answer.text
    assert answer.backend == "local" and answer.route == "requested"
    assert answer.model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert answer.adapter is None
    assert answer.sources[0].doc_id == "lease.md"
    assert answer.sources[0].metadata["source"].endswith("lease.md")
    assert {s.metadata["domain"] for s in answer.sources} == {"legal"}
    stages = {"embed_ms", "search_ms", "rerank_ms", "generate_ms", "total_ms", "load_ms"}
    assert set(answer.timings) == stages
    assert answer.timings["generate_ms"] > 0
    assert answer.timings["total_ms"] >= answer.timings["generate_ms"]
    assert 0 < answer.usage.output_tokens <= 24
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["sources"][0]["doc_id"] == "lease.md"
    assert data["dropped"] == [] and "citations" in data


class _SlowLoadingEmbedder(SentenceTransformerEmbedder):
    """The real embedder, whose first load takes at least LOAD_S longer."""

    LOAD_S = 1.5

    def _load(self) -> Any:
        time.sleep(self.LOAD_S)
        return super()._load()


def test_model_loading_is_reported_apart_from_the_stages(
    indexed_corpus: Settings, local_generator: LocalGenerator
) -> None:
    embedder = _SlowLoadingEmbedder.from_settings(indexed_corpus)  # not loaded yet
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=4) as qa:
        started = time.perf_counter()
        first = qa.ask(QUESTION, domain="legal", backend="local")
        wall_ms = (time.perf_counter() - started) * 1000
        second = qa.ask(QUESTION, domain="legal", backend="local")

    load_s = _SlowLoadingEmbedder.LOAD_S
    assert first.timings["load_ms"] >= load_s * 1000
    # The load is not in any stage: the stages and the total leave it out.
    assert first.timings["total_ms"] <= wall_ms - first.timings["load_ms"] + 1
    assert first.timings["embed_ms"] <= wall_ms - load_s * 1000
    assert second.timings["load_ms"] == 0.0  # loaded once, reused


def test_a_stream_reports_its_load_time_too(
    indexed_corpus: Settings, local_generator: LocalGenerator
) -> None:
    embedder = _SlowLoadingEmbedder.from_settings(indexed_corpus)
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=4) as qa:
        *_, final = qa.stream(QUESTION, domain="legal", backend="local")

    assert isinstance(final, Answer)
    assert final.timings["load_ms"] >= _SlowLoadingEmbedder.LOAD_S * 1000


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

    local_first = qa.settings.replaced(**{"prefer_claude": False})
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
    qa: Pipeline, embedder: SentenceTransformerEmbedder, local_generator: LocalGenerator
) -> None:
    tight = qa.settings.replaced(**{"context_tokens": 256, "max_new_tokens": 4, "top_k": 6})
    store = qa.retriever.store
    with Pipeline(
        tight, embedder=embedder, store=store, generators={"local": local_generator}
    ) as p:
        answer = p.ask("policy terms", backend="local")
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
    with pytest.raises(ConfigError, match="unknown query option"):
        qa.ask(QUESTION, color="blue")  # type: ignore[call-arg]
    # A pipeline that has not built a Claude client yet (this module's may have, with a key).
    with (
        Pipeline(qa.settings, store=qa.retriever.store, embedder=qa.retriever.embedder) as fresh,
        pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"),
    ):
        fresh.ask(QUESTION, backend="claude")


def test_a_pipeline_from_settings_alone_builds_its_own_parts(
    tmp_path: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    _, indexed = index_corpus(tmp_path, settings, embedder)
    with Pipeline(indexed) as qa:
        sources = qa.retrieve(QUESTION, domain="legal", top_k=2)
    assert sources[0].doc_id == "lease.md" and len(sources) <= 2


def test_one_batch_answers_queries_that_differ_in_every_option(qa: Pipeline) -> None:
    queries = [
        Query(QUESTION, domain="legal", backend="local", max_new_tokens=3),
        Query("Who approves large loans?", domain="finance", top_k=1, max_new_tokens=6),
        Query("When are refunds paid?", doc_id="r1", mode="sparse", backend="local"),
    ]
    answers = qa.answer(queries)
    assert [a.sources[0].doc_id for a in answers] == ["lease.md", "credit.md", "r1"]
    assert answers[0].usage.output_tokens <= 3 and answers[1].usage.output_tokens <= 6
    assert len(answers[1].sources) == 1 and {s.doc_id for s in answers[2].sources} == {"r1"}
    # The keyword form is the same query: ask(question, **options) == answer([Query(...)]).
    alone = qa.ask(QUESTION, domain="legal", backend="local", max_new_tokens=3)
    assert alone.text == answers[0].text
    # The same chunks; scores equal but for float noise (a batch of one pads differently).
    assert [(s.chunk_id, s.text, s.metadata) for s in alone.sources] == [
        (s.chunk_id, s.text, s.metadata) for s in answers[0].sources
    ]
    assert [s.score for s in alone.sources] == pytest.approx([s.score for s in answers[0].sources])
    assert qa.ask(queries[0]).text == answers[0].text  # a Query is accepted as the question


def test_the_keyword_form_and_the_query_have_the_same_fields() -> None:
    assert set(QueryOptions.__annotations__) == set(OPTION_NAMES)
    assert set(SEARCH_FIELDS) <= set(OPTION_NAMES)  # every search option is a query field
    assert Query.of("q", {"top_k": 3}) == Query("q", top_k=3)
    assert Query.of(Query("q", domain="a"), {"top_k": 3}) == Query("q", domain="a", top_k=3)
    with pytest.raises(ConfigError, match=r"unknown query option\(s\) \['topk'\]"):
        Query.of("q", {"topk": 3})
    with pytest.raises(ConfigError, match="a question is text or a Query, not int"):
        Query.of(3, {})  # type: ignore[arg-type]
