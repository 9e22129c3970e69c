"""Concurrent requests over HTTP: different adapters at once, and a slow Claude call that
does not hold up local requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers.adapters import random_adapter
from helpers.fake_anthropic import FakeAnthropic
from helpers.server import ADMIN, FINANCE, Served, server_settings, serving

from adaptrag.adapters import add_adapter
from adaptrag.ingest import ingest_paths
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"


@pytest.fixture(scope="module")
def with_adapters(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """A server whose legal and finance domains each have an adapter (random LoRA weights)."""
    tmp = tmp_path_factory.mktemp("adapters-server")
    settings = server_settings(tmp, models_dir)
    for seed, domain in enumerate(("legal", "finance")):
        ingest_paths([SAMPLE / domain], domain, settings=settings, embedder=embedder)
        add_adapter(random_adapter(models_dir, tmp / domain, seed), domain, settings=settings)
    with serving(settings, embedder, local_generator, f"{ADMIN}:* {FINANCE}:finance") as served:
        yield served


QUESTION = "What is the annual base rent of the Northwind lease?"


def test_simultaneous_requests_for_different_adapters_get_their_own(
    with_adapters: Served,
) -> None:
    def ask(adapter: str) -> tuple[str, str]:
        with with_adapters.client() as client:
            body = {"question": QUESTION, "domain": "legal", "adapter": adapter}
            response = client.post("/v1/ask", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["text"]), str(response.json()["adapter"])

    alone = {name: ask(name) for name in ("legal", "finance", "base")}
    assert len({text for text, _ in alone.values()}) == 3  # each adapter changes the answer
    order = ["legal", "finance", "base"] * 3
    with ThreadPoolExecutor(len(order)) as pool:
        together = list(pool.map(ask, order))
    assert together == [alone[name] for name in order]
    with with_adapters.client() as client:
        listed = client.get("/v1/adapters").json()
    assert {a["domain"] for a in listed} == {"legal", "finance"}


def test_a_slow_claude_call_does_not_block_local_requests(
    served: Served, claude_env: FakeAnthropic
) -> None:
    claude_env.hold = threading.Event()  # the fake API holds the Claude call until released
    with ThreadPoolExecutor(1) as pool, served.client() as client:
        slow = pool.submit(
            client.post, "/v1/ask", json={"question": "What is the rent?", "backend": "claude"}
        )
        try:
            assert claude_env.arrived.wait(60), "the Claude call never reached the API"
            local = client.post(
                "/v1/ask",
                json={"question": "What is the rent?", "backend": "local", "domain": "legal"},
            )
            retrieved = client.post("/v1/retrieve", json={"question": "rent"})
            assert local.status_code == 200 and retrieved.status_code == 200
            # both were answered while the Claude call was still held at the API
            assert not slow.done()
        finally:
            claude_env.hold.set()
        answer = slow.result(timeout=60)
    assert answer.status_code == 200 and answer.json()["backend"] == "claude"


def test_a_key_sees_and_uses_only_its_own_domains_adapters(with_adapters: Served) -> None:
    with with_adapters.client(FINANCE) as finance:
        listed = finance.get("/v1/adapters").json()
        assert {a["domain"] for a in listed} == {"finance"}
        legal = finance.post(
            "/v1/ask", json={"question": QUESTION, "domain": "finance", "adapter": "legal"}
        )
        assert legal.status_code == 400 and "that this key may use" in legal.json()["error"]
        own = finance.post(
            "/v1/ask", json={"question": QUESTION, "domain": "finance", "adapter": "finance"}
        )
        assert own.status_code == 200 and own.json()["adapter"].startswith("finance")
