"""Shared fixtures: an isolated environment, and real models loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from rag.embedder import SentenceTransformerEmbedder
from rag.settings import Settings


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ADAPTRAG_* setting leaks in from the developer's shell; data goes to a tmp dir."""
    for name in list(os.environ):
        if name.startswith("ADAPTRAG_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ADAPTRAG_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default embedding model (all-MiniLM-L6-v2 from its PyPI package), loaded once."""
    model = SentenceTransformerEmbedder()
    assert model.dimension == 384
    return model


@pytest.fixture
def settings(isolated_env: Path) -> Settings:
    """Default settings over the tmp data dir."""
    return Settings(data_dir=isolated_env)


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    """A small folder of documents in several formats, written for the tests."""
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "lease.md").write_text(
        "# Lease\n\nThe tenant gives ninety days notice to terminate.\n\n"
        "## Rent\n\nRent of 8,000 euros is due on the first day of each month.\n"
    )
    (root / "nda.txt").write_text("Confidentiality lasts four years after the agreement ends.\n")
    sub = root / "policies"
    sub.mkdir()
    (sub / "travel.html").write_text(
        "<html><head><title>Travel policy</title></head><body><h1>Travel</h1>"
        "<p>Economy class is required for flights under six hours.</p></body></html>"
    )
    (root / "records.jsonl").write_text(
        '{"doc_id": "r1", "title": "Refunds", "text": "Refunds are paid within 14 days."}\n'
        '{"doc_id": "r2", "title": "Warranty", "text": "The warranty covers two years."}\n'
    )
    yield root
