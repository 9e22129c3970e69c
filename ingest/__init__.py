"""The ingestion job: files on disk into a Qdrant collection, idempotent and incremental.

from adaptrag.ingest import ingest_paths
report = ingest_paths(["contracts/"], domain="legal")
report.added, report.updated, report.unchanged, report.deleted, report.failed

list_documents("legal"), get_document("legal", doc_id), delete_document("legal", doc_id)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adaptrag.ingest.contextualize import Contextualizer, contextualizer_for
from adaptrag.ingest.documents import (
    DocumentInfo,
    DocumentNotFoundError,
    StoredText,
    delete_document,
    get_document,
    list_documents,
)
from adaptrag.ingest.job import IngestJob, ProgressHook
from adaptrag.ingest.loaders import LoaderOptions, LoadLimits
from adaptrag.ingest.report import FileIssue, IngestReport
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.settings import Settings, load_settings, parse_indexed_fields
from adaptrag.rag.stores import VectorStore, store_for

if TYPE_CHECKING:
    from adaptrag.ingest.distributed import RayOptions

__all__ = [
    "Contextualizer",
    "DocumentInfo",
    "DocumentNotFoundError",
    "FileIssue",
    "IngestJob",
    "IngestReport",
    "LoadLimits",
    "LoaderOptions",
    "StoredText",
    "delete_document",
    "get_document",
    "ingest_paths",
    "list_documents",
    "loader_options_for",
]


def loader_options_for(settings: Settings, **fields: str) -> LoaderOptions:
    """`LoaderOptions` with `fields` (text_field, id_prefix...) and the settings' limits."""
    limits = LoadLimits(
        max_file_mb=settings.ingest.ingest_max_file_mb,
        max_expanded_mb=settings.ingest.ingest_max_expanded_mb,
        max_text_mb=settings.ingest.ingest_max_text_mb,
        max_record_mb=settings.ingest.ingest_max_record_mb,
        max_elements=settings.ingest.ingest_max_elements,
        max_seconds=settings.ingest.ingest_max_seconds,
    )
    return LoaderOptions(**fields, limits=limits)


def ingest_paths(
    paths: Sequence[str | Path],
    domain: str,
    *,
    settings: Settings | None = None,
    collection: str | None = None,
    sync: bool = False,
    dry_run: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    loader_options: LoaderOptions | None = None,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    show_progress: bool | None = None,
    on_progress: ProgressHook | None = None,
    cancel: threading.Event | None = None,
    ray: RayOptions | None = None,
) -> IngestReport:
    """Ingest files and folders into `domain` of a collection; return what happened.

    Args:
        paths: files and folders; folders are recursed (hidden entries passed over).
        domain: the domain the documents belong to (legal, finance...).
        settings: defaults to `load_settings()` (environment and ADAPTRAG_CONFIG).
        collection: overrides `settings.store.collection`.
        sync: delete documents of this domain and these roots that no longer exist.
        dry_run: plan only (report.plan), store nothing.
        include / exclude: globs on relative paths or file names.
        loader_options: field names for JSON/JSONL/CSV records and the limits of reading one
            file; None: the defaults, with the limits of `settings` (`loader_options_for`).
        embedder / store: use these instead of building them from settings (a caller that
            ingests often keeps one loaded embedder).
        show_progress: progress bars on stderr; None shows them on a terminal.
        on_progress: `on_progress(stage, done, total)` after each step (see `IngestJob`).
        cancel: set it (from any thread) to stop the run: what is embedded is stored, then
            `IngestCancelledError` is raised; a run again finishes the rest (see `IngestJob`).
        ray: parse and embed on Ray (`ingest.distributed`; needs `adaptrag[ray]`); the
            plan, the report and the stored points are the same as without.

    Unchanged documents cost no embedding; a changed document's new chunks are stored
    before its old ones are deleted; a file that fails is reported and the run goes on.
    """
    settings = settings or load_settings()
    contextualizer = contextualizer_for(settings)  # a backend that cannot work fails first
    own_store = store is None
    job_class: type[IngestJob] = IngestJob
    extra = {}
    if ray is not None:
        from adaptrag.ingest.distributed import RayIngestJob

        job_class, extra = RayIngestJob, {"ray_options": ray}
    try:
        store = store or store_for(settings, collection)
        job = job_class(
            store,
            embedder or SentenceTransformerEmbedder.from_settings(settings),
            chunk_tokens=settings.ingest.chunk_tokens,
            chunk_overlap_tokens=settings.ingest.chunk_overlap_tokens,
            chunk_context=settings.ingest.chunk_context,
            sparse=SparseEncoder.for_language(settings.ingest.sparse_stemmer),
            contextualizer=contextualizer,
            # Several model batches per embedding call keep the model busy between writes.
            batch_chunks=settings.embedding.embedding_batch_size * 4,
            show_progress=show_progress,
            on_progress=on_progress,
            cancel=cancel,
            indexed_fields=parse_indexed_fields(settings.store.indexed_fields),
            **extra,
        )
        return job.run(
            paths,
            domain,
            sync=sync,
            dry_run=dry_run,
            include=include,
            exclude=exclude,
            loader_options=loader_options or loader_options_for(settings),
        )
    finally:
        if own_store and store is not None:  # None: opening it failed
            store.close()
        if contextualizer is not None:
            contextualizer.close()
