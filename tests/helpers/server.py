"""Helpers of the server tests: a real uvicorn server in a thread, settings, keys."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.server import create_app
from adaptrag.server.auth import Keyring, parse_keys
from adaptrag.server.coalesce import CoalescingEmbedder
from adaptrag.server.protocol import uvicorn_config

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"
ADMIN = "admin-key-0123456789abcdef"
FINANCE = "finance-key-0123456789abcdef"
LEGAL_INGEST = "legal-ingest-0123456789abcd"
KEYS = f"{ADMIN}:*:ingest; {FINANCE}:finance {LEGAL_INGEST}:legal:ingest"


@contextmanager
def running(app: FastAPI, settings: Settings | None = None) -> Iterator[str]:
    """Serve `app` as `adaptrag serve` does (our protocol and timeouts, from `settings`) on
    a free port of 127.0.0.1; yield its base URL."""
    config = uvicorn_config(app, host="127.0.0.1", port=0, settings=settings or Settings())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass
class Served:
    """A running server and what it was built with."""

    url: str
    settings: Settings
    pipeline: Pipeline
    ingest_root: Path

    def client(self, key: str | None = ADMIN, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def server_settings(tmp: Path, models_dir: Path, **extra: Any) -> Settings:
    """The qdrant-client in-process backend, one collection per module, short answers."""
    return Settings(
        data_dir=tmp / "data",
        model_cache_dir=models_dir,
        qdrant_url=":memory:",
        collection=f"srv{uuid.uuid4().hex[:8]}",
        max_new_tokens=8,
        ingest_root=tmp / "root",
        **extra,
    )


@contextmanager
def serving(
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
    keys: str,
) -> Iterator[Served]:
    """A server over `settings` (already ingested) with these keys; the pipeline closed after."""
    # As `adaptrag serve` builds it: concurrent query embeddings coalesced.
    pipeline = Pipeline(
        settings, embedder=CoalescingEmbedder(embedder), generators={"local": local_generator}
    )
    app = create_app(settings, pipeline=pipeline, keys=Keyring(parse_keys(keys)))
    try:
        with running(app, settings) as url:
            yield Served(url, settings, pipeline, Path(str(settings.server.ingest_root)))
    finally:
        pipeline.close()
