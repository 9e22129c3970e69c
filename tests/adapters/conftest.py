"""Fixtures for adapter tests: an indexed legal domain, made once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.adapters import SAMPLE, legal_settings

from adaptrag.ingest import ingest_paths
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings


@pytest.fixture(scope="module")
def indexed_legal(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
) -> Iterator[Settings]:
    """The sample legal documents ingested once per module."""
    settings = legal_settings(tmp_path_factory.mktemp("data"), models_dir)
    ingest_paths([SAMPLE], "legal", settings=settings, embedder=embedder)
    yield settings
