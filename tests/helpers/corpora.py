"""The small test corpus (several formats, two domains) and a pipeline over it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings


def write_corpus(root: Path) -> Path:
    """Write the `legal` test documents (markdown, text, HTML, JSONL) under `root`."""
    root.mkdir(parents=True)
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
    return root


def index_corpus(
    tmp: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> tuple[Path, Settings]:
    """The corpus written under `tmp` and ingested as `legal`, plus one `finance` document."""
    corpus = write_corpus(tmp / "corpus")
    ingest_paths([corpus], "legal", settings=settings, embedder=embedder)
    finance = tmp / "finance"
    finance.mkdir()
    (finance / "credit.md").write_text(
        "# Credit policy\n\nLoans above two million need approval by the credit committee.\n"
    )
    ingest_paths([finance], "finance", settings=settings, embedder=embedder)
    return corpus, settings


@contextmanager
def pipeline_over(
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
    **changes: Any,
) -> Iterator[Pipeline]:
    """A pipeline over `settings` (with `changes`), sharing the session's loaded models."""
    tuned = settings.replaced(**changes)
    with Pipeline(tuned, embedder=embedder, generators={"local": local_generator}) as pipeline:
        yield pipeline
