"""A real server on 127.0.0.1 (uvicorn in a thread) over the qdrant-client in-process backend,
with legal and finance documents and three keys; built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.server import KEYS, SAMPLE, Served, server_settings, serving

from adaptrag.ingest import ingest_paths
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("server")
    settings = server_settings(tmp, models_dir, max_upload_mb=0.05)
    (tmp / "root" / "finance").mkdir(parents=True)
    for domain in ("legal", "finance"):
        ingest_paths([SAMPLE / domain], domain, settings=settings, embedder=embedder)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served
