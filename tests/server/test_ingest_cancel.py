"""Cancelling ingest jobs over HTTP (issue 31): a queued job never runs, a running one stops
after what it has embedded is stored, nothing is lost, and the same job again finishes.

The embedder is the real one behind a gate the test opens, so "the job is running when it
is cancelled" holds however fast or busy the machine is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from helpers.server import ADMIN, FINANCE, KEYS, Served, server_settings, serving

from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.stores import Where


class Gate:
    """The real embedder; from its second passage batch on, each waits for `opened`."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.batches = 0
        self.waiting = threading.Event()
        self.opened = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.batches += 1
        if self.batches > 1:
            self.waiting.set()
            assert self.opened.wait(120), "the test never opened the gate"
        return self.inner.embed_passages(texts)


@pytest.fixture
def gated(
    tmp_path: Path,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[tuple[Served, Gate]]:
    # Four chunks per embedding call: 24 one-chunk documents are six batches.
    settings = server_settings(tmp_path, models_dir, embedding_batch_size=1)
    for domain, count in (("legal", 24), ("finance", 2)):
        folder = tmp_path / "root" / domain
        folder.mkdir(parents=True)
        for n in range(count):
            (folder / f"memo{n:02d}.md").write_text(
                f"# Memo {n}\n\nClause {n}: the {domain} notice period is {n + 10} days.\n"
            )
    gate = Gate(embedder)
    with serving(settings, cast(SentenceTransformerEmbedder, gate), local_generator, KEYS) as s:
        yield s, gate


def poll(served: Served, job_id: str, until: set[str], timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with served.client(ADMIN) as client:
        while time.monotonic() < deadline:
            job = client.get(f"/v1/ingest/{job_id}").json()
            if job["status"] in until:
                return job
            time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s} s")


def stored_docs(served: Served, domain: str) -> set[str]:
    store = served.pipeline.retriever.store
    return {str(p["doc_id"]) for p in store.scroll(Where(equals={"domain": domain}), ["doc_id"])}


def test_a_queued_job_never_runs_and_a_running_one_stops_keeping_what_it_stored(
    gated: tuple[Served, Gate],
) -> None:
    served, gate = gated
    with served.client(ADMIN) as client:
        running = client.post("/v1/ingest", json={"paths": ["legal"], "domain": "legal"}).json()
        queued = client.post("/v1/ingest", json={"paths": ["finance"], "domain": "finance"})
        queued_id = queued.json()["job"]
        assert gate.waiting.wait(120), "the first job never reached its second batch"

        dropped = client.delete(f"/v1/ingest/{queued_id}")
        assert dropped.status_code == 202, dropped.text
        assert dropped.json()["status"] == "cancelled"
        assert "before it started" in dropped.json()["error"]

        stopping = client.delete(f"/v1/ingest/{running['job']}")
        assert stopping.status_code == 202 and stopping.json()["status"] == "cancelling"
        with served.client(FINANCE) as other:  # another key cannot see it, nor cancel it
            assert other.delete(f"/v1/ingest/{running['job']}").status_code == 404
        gate.opened.set()
        job = poll(served, running["job"], {"cancelled", "done", "failed"})
        assert job["status"] == "cancelled", job
        assert job["error"].startswith("ingest cancelled after ") and "run the same" in job["error"]
        assert client.delete(f"/v1/ingest/{running['job']}").status_code == 409
        assert client.get(f"/v1/ingest/{queued_id}").json()["status"] == "cancelled"

    kept = stored_docs(served, "legal")
    assert 0 < len(kept) < 24  # the first batch stored, the rest not
    assert stored_docs(served, "finance") == set()  # the queued job read nothing

    with served.client(ADMIN) as client:  # the same job again finishes the rest
        again = client.post("/v1/ingest", json={"paths": ["legal"], "domain": "legal"}).json()
        report = poll(served, again["job"], {"done", "failed"})["report"]
    assert report["unchanged"] == len(kept) and report["added"] == 24 - len(kept)
    assert len(stored_docs(served, "legal")) == 24
