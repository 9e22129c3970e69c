"""Ingestion on Ray (`adaptrag ingest --ray`, `pip install adaptrag[ray]`).

The driver does what the single-process job does, in the same code: it lists the files,
reads the store's manifest, plans each document (unchanged, added, updated; duplicate ids
refused) in file order, and writes — each document's new chunks before its old ones are
deleted. Two Ray Data stages do the heavy work in between:
1. **parse**: files -> documents, as Ray tasks (one CPU each);
2. **chunk + embed**: documents -> chunks, indexed texts, sparse and dense vectors, in a
   pool of actors that each hold the embedding model (one GPU each when the cluster has
   GPUs; `device=auto` then picks CUDA).
Order is preserved, so the stored points are the ones the single-process job writes.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adaptrag.ingest.job import (
    DocumentWork,
    IngestJob,
    IngestRun,
    LoaderOptions,
    WriteBatch,
    load_file,
)
from adaptrag.ingest.loaders import SourceFile
from adaptrag.ingest.titles import embedded_texts
from adaptrag.rag.errors import ConfigError, IngestCancelledError
from adaptrag.rag.infra.tracing import span
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.sparse import SparseEncoder

if TYPE_CHECKING:
    from adaptrag.ingest.report import IngestReport
    from adaptrag.ingest.sync import StoredDocument

EXTRA = "pip install 'adaptrag[ray]'"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide: `address` of a running cluster (None: RAY_ADDRESS, else a local
    Ray started for the run), `actors` embedding actors (None: one per GPU, else one per
    CPU), `documents_per_batch` documents per actor call (small: long documents vary a lot
    in size, and a batch is the unit Ray balances; with 8 one actor did two thirds of the
    work in benchmarks/bench_ingest.py --ray-only)."""

    address: str | None = None
    actors: int | None = None
    documents_per_batch: int = 2


@dataclass(frozen=True)
class _Recipe:
    """What an actor needs to chunk and embed exactly as the driver's job would (picklable:
    the embedder travels unloaded, and the actor loads its model)."""

    embedder: SentenceTransformerEmbedder
    chunk_tokens: int
    chunk_overlap_tokens: int
    chunk_context: str
    sparse: SparseEncoder

    def job(self) -> IngestJob:
        """An IngestJob (no store: it only prepares and embeds) like the driver's."""
        return IngestJob(
            None,  # type: ignore[arg-type]  # never written to
            self.embedder,
            chunk_tokens=self.chunk_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            sparse=self.sparse,
            chunk_context=self.chunk_context,
            show_progress=False,
        )


def _parse(batch: dict[str, Any], options: LoaderOptions) -> dict[str, list[bytes]]:
    """Ray task: files -> what loading each gave."""
    files = [pickle.loads(blob) for blob in batch["file"]]
    return {"loaded": [pickle.dumps((f, load_file(f, options))) for f in files]}


class _Embedder:
    """Ray actor: holds the model; documents -> (chunks, texts, sparse, vectors)."""

    def __init__(self, recipe: _Recipe) -> None:
        self.job = recipe.job()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        documents = [pickle.loads(blob) for blob in batch["document"]]
        prepared = [self.job.prepare(d) for d in documents]
        texts = [text for _, doc_texts, _ in prepared for text in doc_texts]
        vectors: Any = self.job.embedder.embed_passages(embedded_texts(texts)) if texts else []
        out, row = [], 0
        for chunks, doc_texts, sparse in prepared:
            mine = vectors[row : row + len(doc_texts)]
            row += len(doc_texts)
            out.append(pickle.dumps((chunks, doc_texts, sparse, mine)))
        return {"embedded": out}


class RayIngestJob(IngestJob):
    """`IngestJob` whose parse and embed stages run on Ray (see the module docstring)."""

    def __init__(self, *args: Any, ray_options: RayOptions = RayOptions(), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ray_options = ray_options
        if self.contextualizer is not None:
            raise ConfigError(
                "--ray does not generate chunk context yet; ingest with --contextualize "
                "without --ray, or drop --contextualize"
            )

    def recipe(self) -> _Recipe:
        """The driver's embedder and chunk settings, for the actors."""
        embedder = self.embedder
        if not isinstance(embedder, SentenceTransformerEmbedder):
            raise ConfigError("--ray embeds with a sentence-transformers model; drop --ray")
        return _Recipe(
            embedder.with_model(embedder.model_id),  # the same configuration, not loaded
            self.chunk_tokens,
            self.chunk_overlap_tokens,
            self.chunk_context,
            self.sparse,
        )

    def new_run(
        self, domain: str, manifest: dict[str, StoredDocument], report: IngestReport
    ) -> IngestRun:
        """The Ray run."""
        return _RayRun(self, domain, manifest, report)


class _RayRun(IngestRun):
    """The stages of one run, on Ray; planning and writing stay on the driver."""

    job: RayIngestJob

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._pending: list[DocumentWork] = []

    def submit(self, work: DocumentWork) -> None:
        """Collected, to be chunked and embedded by the actors."""
        self._pending.append(work)

    def to_writer(self, batch: WriteBatch) -> None:
        """Stored at once: there is no writer thread here."""
        self.store(batch, self.bars["store"])

    def execute(self, files: list[SourceFile], *, dry_run: bool, options: LoaderOptions) -> None:
        ray = _ray(self.job.ray_options)
        parse_bar = self.bar("parse", "file", len(files))
        self.bar("embed", "chunk")
        store_bar = self.bar("store", "chunk")
        try:
            for file, loaded in self._parsed(ray, files, options):
                self.accept(file, loaded, dry_run)
                self.advance(parse_bar, "parse", 1)
            if self._pending:
                self._embed_and_store(ray, store_bar)
        except (KeyboardInterrupt, IngestCancelledError):
            self.job.cancel.set()
            raise self.cancelled() from None
        finally:
            for bar in self.bars.values():
                bar.close()

    def _parsed(
        self, ray: Any, files: Sequence[SourceFile], options: LoaderOptions
    ) -> Iterator[tuple[SourceFile, Any]]:
        if not files:
            return
        items = [{"file": pickle.dumps(f)} for f in files]
        # Blocks are what Ray spreads: a few files each, so every CPU gets some.
        blocks = min(len(items), 4 * int(ray.cluster_resources().get("CPU", 1)))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _parse, fn_kwargs={"options": options}, batch_size=1
        )
        with span("adaptrag.ingest.parse", files=len(files), ray=True):
            for row in dataset.iter_rows():
                yield pickle.loads(row["loaded"])

    def _embed_and_store(self, ray: Any, store_bar: Any) -> None:
        options = self.job.ray_options
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        items = [{"document": pickle.dumps(w.document)} for w in self._pending]
        blocks = -(-len(items) // options.documents_per_batch)
        actors = min(options.actors or (gpus or max(1, cpus)), blocks)
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _Embedder,
            fn_constructor_kwargs={"recipe": self.job.recipe()},
            batch_size=options.documents_per_batch,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=1 if gpus else 0,
            # Without GPUs each actor gets its share of the CPUs (Ray sets its torch threads).
            num_cpus=1 if gpus else max(1, cpus // actors),
        )
        batch: list[DocumentWork] = []
        vectors: list[Any] = []
        with span("adaptrag.ingest.embed", documents=len(items), actors=actors, ray=True):
            for work, row in zip(self._pending, dataset.iter_rows(), strict=True):
                work.chunks, work.texts, work.sparse, rows = pickle.loads(row["embedded"])
                self.advance(self.bars["embed"], "embed", len(work.texts))
                batch.append(work)
                vectors.extend(rows)
                if len(vectors) >= self.job.batch_chunks:
                    self._flush(batch, vectors, store_bar)
                    batch, vectors = [], []
        if batch:
            self._flush(batch, vectors, store_bar)

    def _flush(self, works: list[DocumentWork], vectors: list[Any], bar: Any) -> None:
        self.job.ensure_writable(len(vectors[0]) if vectors else None)
        self.store(WriteBatch(self.points(works, vectors), works), bar)


def _ray(options: RayOptions) -> Any:
    """Ray, connected to the cluster (or a local one, started once per process)."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError(f"--ray needs Ray: {EXTRA}") from exc
    if not ray.is_initialized():
        address = options.address or os.environ.get("RAY_ADDRESS")
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {address}: {exc}; check --ray-address"
            ) from exc
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset plan lines
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # stored in file order, as without Ray
    context.enable_progress_bars = False
    return ray
