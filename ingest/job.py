"""The ingestion job: parse -> chunk -> embed -> upsert, with the stages overlapped.

A parse thread loads files, hashes documents against the store's manifest and chunks the
ones that changed; the calling thread embeds chunks in large batches (the model is the
bottleneck, so it never waits on I/O); a writer thread upserts each batch and only then
deletes the stale versions of the documents it completed. Queues between the stages are
bounded, so memory stays flat however large the corpus.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adaptrag.ingest.chunking import Chunker
from adaptrag.ingest.contextualize import Contextualizer
from adaptrag.ingest.loaders import LoaderOptions, LoadError, SkipFile, SourceFile, discover, load
from adaptrag.ingest.report import FileIssue, IngestReport
from adaptrag.ingest.sync import (
    Action,
    StoredDocument,
    chunk_id,
    classify,
    content_hash,
    deletions,
    read_manifest,
)
from adaptrag.ingest.titles import embedded_texts, indexed_text
from adaptrag.rag.errors import ConfigError, IngestCancelledError
from adaptrag.rag.infra.tracing import set_attributes, span
from adaptrag.rag.retrieval.collection_info import embedder_for, wanted_spec
from adaptrag.rag.retrieval.embedder import Embedder
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.stores import CollectionSpec, StoredChunk, VectorStore, Where, ensure_collection
from adaptrag.rag.stores.base import INDEXES
from adaptrag.rag.types import Chunk, Document, SparseVector, is_domain_name

ProgressHook = Callable[[str, int, int | None], None]
logger = logging.getLogger(__name__)

_DONE = object()
_DELETE_BATCH = 512
PROGRESS_LINE_S = 10.0  # how often a run without a terminal prints where it is


@dataclass
class DocumentWork:
    """One document to embed and store, with its chunks already split and sparse-encoded."""

    document: Document
    document_hash: str
    source: SourceFile
    action: Action
    chunks: list[Chunk]
    sparse: list[SparseVector]
    texts: list[str] = field(default_factory=list)  # what is embedded, chunk by chunk


@dataclass
class WriteBatch:
    """Embedded chunks of whole documents, ready for the writer."""

    points: list[StoredChunk]
    documents: list[DocumentWork]


@dataclass(frozen=True)
class Unloaded:
    """Why a file gave no documents: skipped (nothing to ingest) or failed."""

    issue: FileIssue
    skipped: bool = False


Loaded = list[Document] | Unloaded  # what loading one file gave


def load_file(file: SourceFile, options: LoaderOptions) -> Loaded:
    """The documents of one file, or why it has none."""
    try:
        return load(file, options)
    except SkipFile as exc:
        return Unloaded(FileIssue(str(file.path), str(exc)), skipped=True)
    except LoadError as exc:
        return Unloaded(FileIssue(str(file.path), str(exc)))
    except Exception as exc:  # noqa: BLE001 - a parser failing on a bad file
        return Unloaded(FileIssue(str(file.path), f"{type(exc).__name__}: {exc}"))


class _Stage(threading.Thread):
    """A daemon thread that keeps its exception for the caller and stops the other stages."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self._stop_all = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - re-raised by IngestRun.execute
            self.error = exc
            self._stop_all.set()


class IngestJob:
    """Ingests files into one collection with one embedder.

    Args:
        store: the collection to write.
        embedder: dense encoder (loaded only if some document needs embedding).
        chunk_tokens / chunk_overlap_tokens: chunk size settings, recorded in the collection.
        sparse: sparse encoder (default BM25-style, recorded in the collection).
        batch_chunks: chunks per embedding call; large batches keep the model busy. 256.
        show_progress: progress bars on stderr; None (default) shows them on a terminal.
        on_progress: called as `on_progress(stage, done, total)` after each step of a stage
            ("parse" in files with a total, "embed" and "store" in chunks without one), from
            the stage's thread; for servers and UIs that show a job's progress.
        cancel: when set, the run stops: no new file is read and no new batch embedded, the
            batches already embedded are stored, and `run` raises `IngestCancelledError`
            (a file being read finishes or meets its `LoadLimits` first). Ctrl-C does the
            same. Nothing is deleted by a cancelled run, `sync` included.
        indexed_fields: payload indexes {name: type} to make for filtering
            (`ADAPTRAG_INDEXED_FIELDS`), beside those every collection has.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        chunk_tokens: int,
        chunk_overlap_tokens: int,
        sparse: SparseEncoder | None = None,
        chunk_context: str = "none",
        contextualizer: Contextualizer | None = None,
        batch_chunks: int = 256,
        show_progress: bool | None = None,
        on_progress: ProgressHook | None = None,
        cancel: threading.Event | None = None,
        indexed_fields: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.indexed_fields = {**INDEXES, **(indexed_fields or {})}
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap_tokens = chunk_overlap_tokens
        self.sparse = sparse or SparseEncoder()
        self.chunk_context = chunk_context
        self.contextualizer = contextualizer
        self.batch_chunks = batch_chunks
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        # No terminal (a container's log, CI): a plain line now and then instead of bars.
        self.progress_lines = show_progress is None and not self.show_progress
        self.on_progress = on_progress
        self.cancel = cancel or threading.Event()
        self._chunker: Chunker | None = None
        self._spec: CollectionSpec | None = None

    # --- collection -------------------------------------------------------------------

    def _spec_for(self, dimension: int) -> CollectionSpec:
        return wanted_spec(
            self.embedder,
            self.sparse,
            chunk_tokens=self.chunk_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            dimension=dimension,
            chunk_context=self.chunk_context,
            generated_context=self.contextualizer.usage.backend if self.contextualizer else "none",
        )

    def _check_existing(self) -> CollectionSpec | None:
        """Check an existing collection without loading the model (same id, same dimension).

        A collection keeps the sparse encoding and chunk context it was created with (older
        versions' included), so all its chunks are indexed one way.
        """
        existing = self.store.spec()
        if existing is not None:
            self.sparse = SparseEncoder.matching(existing.sparse) or self.sparse
            self.chunk_context = existing.chunk_context
            self.embedder = embedder_for(self.embedder, existing)
            existing.check_compatible(
                self._spec_for(existing.dimension), self.store.name, ingest=True
            )
        return existing

    def _indexed_texts(self, document: Document, chunks: Sequence[Chunk]) -> list[str]:
        """What is embedded and sparse-encoded for each chunk (context included)."""
        generated = (
            self.contextualizer.contexts(document, chunks)
            if self.contextualizer is not None
            else [""] * len(chunks)
        )
        return [
            indexed_text(
                document,
                chunk,
                self.chunk_context,
                token_length=self.embedder.token_length,
                max_tokens=self.embedder.max_chunk_tokens,
                generated=context,
            )
            for chunk, context in zip(chunks, generated, strict=True)
        ]

    def _chunks(self, document: Document) -> list[Chunk]:
        if self._chunker is None:
            limit = min(self.chunk_tokens, self.embedder.max_chunk_tokens)
            self._chunker = Chunker(self.embedder.token_length, limit, self.chunk_overlap_tokens)
        return self._chunker.split(document)

    def prepare(self, document: Document) -> tuple[list[Chunk], list[str], list[SparseVector]]:
        """A document's chunks, the text indexed for each (context included), and each
        one's sparse vector: everything but the dense embedding."""
        chunks = self._chunks(document)
        texts = self._indexed_texts(document, chunks)
        return chunks, texts, [self.sparse.encode_passage(text) for text in texts]

    def ensure_writable(self, dimension: int | None = None) -> None:
        """Create the collection if needed; check it against the model's dimension (given,
        or read from the loaded model)."""
        if self._spec is None:
            wanted = self._spec_for(dimension or self.embedder.dimension)
            self._spec = ensure_collection(self.store, wanted, ingest=True)
            self.store.index_fields(self.indexed_fields)  # a collection made before gets them

    def new_run(
        self, domain: str, manifest: dict[str, StoredDocument], report: IngestReport
    ) -> IngestRun:
        """The run that executes the stages (threads here; `ingest.distributed`: Ray)."""
        return IngestRun(self, domain, manifest, report)

    # --- run ----------------------------------------------------------------------------

    def run(
        self,
        paths: Sequence[str | Path],
        domain: str,
        *,
        sync: bool = False,
        dry_run: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        loader_options: LoaderOptions = LoaderOptions(),
    ) -> IngestReport:
        """Ingest `paths` into `domain`; see `ingest_paths` for the arguments."""
        if not is_domain_name(domain):
            raise ConfigError(
                f"invalid domain {domain!r}; use letters, digits, '_', '.' or '-' (e.g. legal)"
            )
        if not paths:
            raise ConfigError("no paths given; name at least one file or folder to ingest")
        started = time.perf_counter()
        files = list(discover(paths, include, exclude))
        roots = sorted({str(Path(p).expanduser().resolve()) for p in paths})
        self._check_existing()
        manifest = read_manifest(self.store, domain)
        report = IngestReport(collection=self.store.name, domain=domain, dry_run=dry_run)
        run = self.new_run(domain, manifest, report)
        with span(
            "adaptrag.ingest",
            domain=domain,
            collection=self.store.name,
            files=len(files),
            dry_run=dry_run,
        ) as current:
            run.execute(files, dry_run=dry_run, options=loader_options)
            set_attributes(
                current,
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                failed=len(report.failed),
                chunks_embedded=report.chunks_embedded,
            )
        if sync:
            failed_sources = {str(Path(f.path).resolve()) for f in report.failed}
            doomed = deletions(manifest, run.seen, roots, failed_sources)
            report.plan.extend({"doc_id": d, "action": Action.DELETE.value} for d in doomed)
            if not dry_run:
                for start in range(0, len(doomed), _DELETE_BATCH):
                    ids = doomed[start : start + _DELETE_BATCH]
                    self.store.delete(Where(equals={"domain": domain, "doc_id": ids}))
            report.deleted = len(doomed)
        if not dry_run and (report.chunks_embedded or report.deleted):
            self.store.optimize()
        if self.contextualizer is not None:
            report.context = self.contextualizer.usage.to_dict()
        report.seconds = time.perf_counter() - started
        return report


class IngestRun:
    """One `IngestJob.run`: its stages (parse, embed, store) and what they report; the
    executor seam.

    This class runs the stages on threads joined by bounded queues. Another executor
    (`ingest.distributed`'s Ray run) subclasses it, is returned by its job's `new_run`, and
    overrides `execute` (run the stages over the files), and where its stages differ
    `submit` (a planned document to embed) and `to_writer` (an embedded batch to store).
    Whatever it runs on, it plans each file with `accept` and writes with `points` +
    `store`, so idempotence, replace-before-delete and the report hold; `bar`, `advance`
    and `cancelled` give it the progress bars, the progress line and the cancel error.
    """

    def __init__(
        self, job: IngestJob, domain: str, manifest: dict[str, StoredDocument], report: IngestReport
    ) -> None:
        self.job = job
        self.domain = domain
        self.manifest = manifest
        self.report = report
        self._first_source: dict[str, str] = {}
        self._to_embed: queue.Queue[Any] = queue.Queue(maxsize=64)
        self._to_write: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.bars: dict[str, tqdm[Any]] = {}
        self._done: dict[str, int] = {}
        self._started = self._last_line = time.monotonic()

    @property
    def seen(self) -> set[str]:
        """Doc ids the run's files hold (the first file wins a duplicate)."""
        return set(self._first_source)

    def bar(self, name: str, unit: str, total: int | None = None) -> tqdm[Any]:
        """A progress bar of a stage (hidden without a terminal; the progress line instead)."""
        bar = tqdm(
            total=total,
            desc=name,
            unit=unit,
            file=sys.stderr,
            disable=not self.job.show_progress,
            position=len(self.bars),
            leave=True,
            dynamic_ncols=True,
        )
        self.bars[name] = bar
        self._done[name] = 0
        if self.job.on_progress is not None:
            self.job.on_progress(name, 0, total)
        return bar

    def advance(self, bar: tqdm[Any], name: str, n: int) -> None:
        """Move a stage on by n (its bar, the progress hook, a progress line when due); a
        cancelled run stops here after a file is read or a batch embedded, never between a
        batch's writes (the writer finishes what it was given)."""
        if name != "store":
            self._check_cancel()
        bar.update(n)
        self._done[name] += n
        if self.job.on_progress is not None:
            self.job.on_progress(name, self._done[name], bar.total)
        if self.job.progress_lines and time.monotonic() - self._last_line >= PROGRESS_LINE_S:
            self._progress_line()

    def _check_cancel(self) -> None:
        if self.job.cancel.is_set():
            raise IngestCancelledError("cancelled")  # worded by `_cancelled` at the end

    def _where(self) -> str:
        """Where the stages are: files parsed, chunks embedded and stored, time so far."""
        return (
            f"{self._done['parse']}/{self.bars['parse'].total} files parsed, "
            f"{self._done['embed']} chunks embedded, {self._done['store']} stored "
            f"({time.monotonic() - self._started:.0f} s)"
        )

    def _progress_line(self, final: bool = False) -> None:
        """One line on stderr: where each stage is (stages run in three threads)."""
        with self._lock:
            self._last_line = time.monotonic()
            print(
                f"{'ingested' if final else 'ingesting'}: {self._where()}",
                file=sys.stderr,
                flush=True,
            )

    def cancelled(self) -> IngestCancelledError:
        """The error a cancelled run ends with, saying what was stored."""
        return IngestCancelledError(
            f"ingest cancelled after {self._where()}; what was stored stays searchable and "
            "nothing was deleted: run the same ingest again to finish (stored documents are "
            "not embedded again)"
        )

    def execute(self, files: list[SourceFile], *, dry_run: bool, options: LoaderOptions) -> None:
        """Parse, embed and store `files` (threads joined by bounded queues)."""
        parse_bar = self.bar("parse", "file", len(files))
        embed_bar = self.bar("embed", "chunk")
        store_bar = self.bar("store", "chunk")
        # Each stage thread runs in a copy of this context, so its spans join the ingest's.
        parsing, writing = contextvars.copy_context(), contextvars.copy_context()
        parser = _Stage(
            "adaptrag-parse",
            lambda: parsing.run(self._parse, files, dry_run, options, parse_bar),
            self._stop,
        )
        writer = _Stage("adaptrag-write", lambda: writing.run(self._write, store_bar), self._stop)
        parser.start()
        writer.start()
        try:
            self._embed(embed_bar)
        except (KeyboardInterrupt, IngestCancelledError):
            self.job.cancel.set()  # the parser stops at its next file; the writer drains
        except BaseException:
            self._stop.set()
            raise
        finally:
            self._put(self._to_write, _DONE)
            writer.join()
            self._stop.set()
            parser.join()
            for bar in self.bars.values():
                bar.close()
        for stage in (parser, writer):
            if stage.error is not None and not isinstance(stage.error, IngestCancelledError):
                raise stage.error
        if self.job.cancel.is_set():
            raise self.cancelled()
        if self.job.progress_lines:
            self._progress_line(final=True)

    def _put(self, target: queue.Queue[Any], item: Any) -> None:
        """Put, giving up when another stage has failed (so no thread blocks forever)."""
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # --- stage 1: parse, classify, chunk ------------------------------------------------

    def _parse(
        self, files: list[SourceFile], dry_run: bool, options: LoaderOptions, bar: tqdm[Any]
    ) -> None:
        try:
            for file in files:
                if self._stop.is_set():
                    return
                with span("adaptrag.ingest.parse", file=str(file.path)):
                    self._parse_file(file, dry_run, options)
                self.advance(bar, "parse", 1)
        finally:
            self._put(self._to_embed, _DONE)

    def _parse_file(self, file: SourceFile, dry_run: bool, options: LoaderOptions) -> None:
        self.accept(file, load_file(file, options), dry_run)

    def accept(self, file: SourceFile, loaded: Loaded, dry_run: bool) -> None:
        """Plan the documents of one loaded file (or report why it has none)."""
        report = self.report
        if isinstance(loaded, Unloaded):
            (report.skipped if loaded.skipped else report.failed).append(loaded.issue)
            return
        for document in loaded:
            if document.doc_id in self._first_source:
                report.failed.append(
                    FileIssue(
                        str(file.path),
                        f"duplicate doc_id {document.doc_id!r} (also in "
                        f"{self._first_source[document.doc_id]}); give records unique ids",
                    )
                )
                continue
            self._first_source[document.doc_id] = str(file.path)
            self._plan_document(file, document, dry_run)

    def _plan_document(self, file: SourceFile, document: Document, dry_run: bool) -> None:
        document_hash = content_hash(document)
        stored = self.manifest.get(document.doc_id)
        if stored is not None and not self._may_replace(file, document, stored):
            return
        action = classify(document_hash, stored)
        if dry_run:
            self.report.plan.append({"doc_id": document.doc_id, "action": action.value})
            self._count(action)
            return
        if action is Action.UNCHANGED:
            self._count(action, stored.chunks_by_hash[document_hash] if stored else 0)
            return
        work = DocumentWork(document, document_hash, file, action, [], [])
        if action is Action.CLEANUP:
            # The new version is stored whole (a run was cut off before deleting the old one).
            self.to_writer(WriteBatch([], [work]))
            return
        self.submit(work)

    def submit(self, work: DocumentWork) -> None:
        """A document to chunk, embed and store: chunked here, embedded on the caller's
        thread."""
        work.chunks, work.texts, work.sparse = self.job.prepare(work.document)
        self._put(self._to_embed, work)

    def _may_replace(self, file: SourceFile, document: Document, stored: StoredDocument) -> bool:
        """Whether this file may write over the stored document of the same id.

        Yes when the stored version came from this same file. When it came from another
        file that still exists, two documents share one id: this one is refused (reported
        as failed), so nothing stored is lost. When the other file is gone (moved, or an
        earlier upload), this one takes its place and the report says so.
        """
        others = sorted(s for s in stored.sources if s and s != document.source)
        if not others or document.source in stored.sources:
            return True
        still_there = [s for s in others if Path(s).exists()]
        if still_there:
            self.report.failed.append(
                FileIssue(
                    str(file.path),
                    f"doc_id {document.doc_id!r} already holds {still_there[0]} in domain "
                    f"{self.domain!r}; not stored, so that document is kept: give this "
                    "folder's documents their own ids with --id-prefix NAME (API: id_prefix)",
                )
            )
            return False
        self.report.replaced.append(
            {"doc_id": document.doc_id, "previous_source": others[0], "source": document.source}
        )
        return True

    def _count(self, action: Action, chunks: int = 0) -> None:
        with self._lock:
            report = self.report
            if action is Action.ADD:
                report.added += 1
            elif action in (Action.UPDATE, Action.CLEANUP):
                report.updated += 1
            elif action is Action.UNCHANGED:
                report.unchanged += 1
            report.chunks_total += chunks

    # --- stage 2: embed (calling thread) ------------------------------------------------

    def _embed(self, bar: tqdm[Any]) -> None:
        # The parser always ends with _DONE unless a stage failed, which sets _stop.
        pending: list[DocumentWork] = []
        pending_chunks = 0
        while not self._stop.is_set():
            self._check_cancel()
            try:
                item = self._to_embed.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                if pending:
                    self._embed_batch(pending, bar)
                return
            pending.append(item)
            pending_chunks += len(item.chunks)
            # A full batch goes; so does a quarter of one when nothing more is parsed yet,
            # so the model starts (and stays) busy while the parser catches up.
            ready = pending_chunks >= self.job.batch_chunks or (
                pending_chunks >= self.job.batch_chunks // 4 and self._to_embed.empty()
            )
            if ready:
                self._embed_batch(pending, bar)
                pending, pending_chunks = [], 0

    def _embed_batch(self, works: list[DocumentWork], bar: tqdm[Any]) -> None:
        self.job.ensure_writable()
        texts = [text for w in works for text in w.texts]
        with span("adaptrag.ingest.embed", chunks=len(texts), documents=len(works)):
            vectors = self.job.embedder.embed_passages(embedded_texts(texts))
        self.advance(bar, "embed", len(texts))
        self.to_writer(WriteBatch(self.points(works, vectors), works))

    def to_writer(self, batch: WriteBatch) -> None:
        """Hand a batch to the writer thread (`store` writes it)."""
        self._put(self._to_write, batch)

    def points(self, works: Sequence[DocumentWork], vectors: Any) -> list[StoredChunk]:
        """The stored points of embedded documents (`vectors`: one row per chunk, in order)."""
        ingested_at = datetime.now(UTC).isoformat()
        points: list[StoredChunk] = []
        row = 0
        for work in works:
            for chunk, sparse, text in zip(work.chunks, work.sparse, work.texts, strict=True):
                context = text[: -len(chunk.text)].strip() if text != chunk.text else ""
                points.append(self._point(work, chunk, sparse, vectors[row], ingested_at, context))
                row += 1
        return points

    def _point(
        self,
        work: DocumentWork,
        chunk: Chunk,
        sparse: SparseVector,
        vector: Any,
        ingested_at: str,
        context: str,
    ) -> StoredChunk:
        document = work.document
        point_id = chunk_id(self.domain, document.doc_id, work.document_hash, chunk.chunk_index)
        payload = {
            **document.metadata,
            **chunk.metadata,
            "doc_id": document.doc_id,
            "chunk_id": point_id,
            "chunk_index": chunk.chunk_index,
            "chunk_count": len(work.chunks),
            "domain": self.domain,
            "source": document.source,
            "source_root": str(work.source.root),
            "title": document.title,
            "text": chunk.text,
            "context": context,  # indexed before the text (title line, generated sentence)
            "content_hash": work.document_hash,
            "ingested_at": ingested_at,
        }
        return StoredChunk(point_id, vector.tolist(), sparse, payload)

    # --- stage 3: write -----------------------------------------------------------------

    def _write(self, bar: tqdm[Any]) -> None:
        while True:
            try:
                batch = self._to_write.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if batch is _DONE:
                return
            self.store(batch, bar)

    def store(self, batch: WriteBatch, bar: tqdm[Any]) -> None:
        """Write a batch: its chunks first, then the old versions of its documents."""
        store = self.job.store
        with span("adaptrag.ingest.store", points=len(batch.points)):
            store.upsert(batch.points)
        self.advance(bar, "store", len(batch.points))
        for work in batch.documents:
            # Old versions go only now that every chunk of the new one is stored.
            if work.action is not Action.ADD:
                store.delete(
                    Where(
                        equals={"domain": self.domain, "doc_id": work.document.doc_id},
                        not_equals={"content_hash": work.document_hash},
                    )
                )
            stored = self.manifest.get(work.document.doc_id)
            chunks = len(work.chunks) or (
                stored.chunks_by_hash[work.document_hash] if stored else 0
            )
            self._count(work.action, chunks)
        with self._lock:
            self.report.chunks_embedded += len(batch.points)
        logger.info("stored %d chunks (%d documents)", len(batch.points), len(batch.documents))
