"""The HTTP API answering through an OpenAI-compatible server (the fake vLLM): same bodies,
same stream, the server's errors as one-line statuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.fake_openai import BASE_MODEL, FakeOpenAI
from helpers.server import KEYS, SAMPLE, Served, server_settings, serving
from test_api import sse_events

from adaptrag.ingest import ingest_paths
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
    openai_server: FakeOpenAI,
) -> Iterator[Served]:
    settings = server_settings(tmp_path_factory.mktemp("server"), models_dir)
    settings = settings.replaced(**{"openai_base_url": openai_server.url})
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def test_ask_and_stream_answer_through_the_inference_server(
    served: Served, openai_env: FakeOpenAI
) -> None:
    question = {"question": "How long does the NDA last?", "domain": "legal"}
    with served.client() as client:
        auto = client.post("/v1/ask", json=question).json()
        stream = client.post("/v1/ask/stream", json={**question, "backend": "openai"})
    assert auto["backend"] == "openai" and auto["model"] == BASE_MODEL
    assert auto["text"].endswith("[1]") and auto["citations"][0]["valid"]
    events = sse_events(stream)
    assert events[-1][0] == "answer" and events[-1][1]["backend"] == "openai"
    assert "".join(d["text"] for _, d in events[:-1]).strip() == events[-1][1]["text"]
    assert len(openai_env.chat_requests()) == 2


def test_a_server_that_stays_down_is_a_one_line_5xx(served: Served, openai_env: FakeOpenAI) -> None:
    openai_env.fail_next(503, 503, 503, 503)
    with served.client() as client:
        response = client.post("/v1/ask", json={"question": "NDA?", "backend": "openai"})
    assert response.status_code in (502, 503)
    error = response.json()["error"]
    assert "(503) after 3 retries" in error and "\n" not in error
