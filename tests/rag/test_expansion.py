"""Query expansion: a model writes the passage's words before search (Claude, the fake API
over real HTTP); off by default, its time and cost on the answer, a failed call harmless."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_anthropic import FakeAnthropic

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.expansion import SYSTEM, phrasings_of
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

QUESTION = "How capital-intensive was Quillmark last year?"
TARGET = "Quillmark paid 11,247 for purchases of property, plant and equipment in 2025."
DISTRACTOR = "Quillmark's style guide is intensive about capital letters in every year's titles."


def _reply(body: dict[str, Any]) -> str:
    if "short search queries" in json.dumps(body):  # the expansion call
        return "1. purchases of property, plant and equipment\n- capital expenditures\n"
    return "It paid 11,247 for property, plant and equipment [1]."


@pytest.fixture
def corpus(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Settings:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "cash-flows.md").write_text(TARGET)
    (folder / "style-guide.md").write_text(DISTRACTOR)
    settings = Settings(data_dir=tmp_path / "data", top_k=1, backend="claude")
    ingest_paths([folder], "finance", settings=settings, embedder=embedder, show_progress=False)
    return settings


def test_the_phrasings_are_the_reply_lines_without_bullets_at_most_three() -> None:
    reply = '1. "cash flow statement"\n- capital expenditures\n\n* PP&E\n2) extra\n- PP&E'
    assert phrasings_of(reply) == ("cash flow statement", "capital expenditures", "PP&E")
    assert phrasings_of("x" * 500) == ("x" * 200,)


def test_expansion_finds_the_passage_the_question_does_not_name(
    corpus: Settings, claude_env: FakeAnthropic, embedder: SentenceTransformerEmbedder
) -> None:
    claude_env.reply = _reply
    with Pipeline(corpus, embedder=embedder) as plain:
        (found,) = plain.retrieve(QUESTION, domain="finance")
        answer = plain.ask(QUESTION, domain="finance")
    assert found.doc_id == "style-guide.md"  # the question alone finds the wrong passage
    assert "expand_ms" not in answer.timings and len(claude_env.requests) == 1  # off: no call
    expanding = corpus.replaced(query_expansion="claude")
    with Pipeline(expanding, embedder=embedder) as qa:
        (found,) = qa.retrieve(QUESTION, domain="finance")
        claude_env.requests.clear()
        answer = qa.ask(QUESTION, domain="finance")
    assert found.doc_id == "cash-flows.md"
    assert [s.doc_id for s in answer.sources] == ["cash-flows.md"]
    expansion, answering = claude_env.requests
    assert SYSTEM in json.dumps(expansion) and QUESTION in json.dumps(expansion)
    assert QUESTION in json.dumps(answering) and SYSTEM not in json.dumps(answering)
    # Its time and its tokens are on the answer: two calls' input tokens, not one.
    assert answer.timings["expand_ms"] > 0
    assert answer.usage.cost_usd > 0 and answer.usage.output_tokens > len(answer.text.split())


def test_a_failed_expansion_searches_the_question_as_asked(
    corpus: Settings,
    claude_env: FakeAnthropic,
    embedder: SentenceTransformerEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    claude_env.reply = _reply
    settings = corpus.replaced(query_expansion="claude", claude_max_retries=0)
    claude_env.fail_next(529)  # overloaded: the expansion call fails, the answer goes on
    with caplog.at_level(logging.WARNING), Pipeline(settings, embedder=embedder) as qa:
        answer = qa.ask(QUESTION, domain="finance")
    assert [s.doc_id for s in answer.sources] == ["style-guide.md"]
    assert answer.text.startswith("It paid") and answer.timings["expand_ms"] >= 0
    assert any("query expansion failed" in r.getMessage() for r in caplog.records)
