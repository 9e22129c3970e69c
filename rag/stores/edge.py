"""Qdrant Edge backend: Qdrant's own engine in-process, persisted under the data dir.

Layout: `<data_dir>/qdrant/<collection>/shard/` (the Edge shard), `collection.json` (the
build record) and `owner.pid` (who holds it). Edge takes an exclusive lock on the shard's
WAL, so one process at a time may open a collection; within a process, every store object
for the same collection shares one open shard.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from adaptrag.rag.errors import StoreBusyError, StoreError
from adaptrag.rag.stores.base import (
    DENSE_VECTOR,
    INDEXES,
    RRF_K,
    SCROLL_PAGE,
    SPARSE_VECTOR,
    CollectionSpec,
    Range,
    SearchRequest,
    StoredChunk,
    Where,
    source_from_payload,
    translate_where,
)
from adaptrag.rag.stores.space import OPEN_NEED_BYTES, free_bytes, require_free, write_need_bytes
from adaptrag.rag.types import Source, SparseVector

logger = logging.getLogger(__name__)

SPEC_FILE = "collection.json"
PID_FILE = "owner.pid"
SERVING_FILE = "serving.json"


def collections_root(data_dir: Path) -> Path:
    """The folder holding one sub-folder per embedded collection."""
    return data_dir / "qdrant"


def list_collections(data_dir: Path) -> list[str]:
    """Names of the embedded collections under `data_dir`, sorted."""
    root = collections_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SPEC_FILE).is_file())


class _OpenShards:
    """This process's open shards by path, reference-counted (Edge allows one opener)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[qe.EdgeShard, int]] = {}

    def acquire(self, path: Path, config: qe.EdgeConfig | None) -> qe.EdgeShard:
        with self._lock:
            if path in self._open:
                shard, users = self._open[path]
                self._open[path] = (shard, users + 1)
                return shard
            shard = _open_shard(path, config)
            self._open[path] = (shard, 1)
            return shard

    def release(self, path: Path) -> None:
        with self._lock:
            if path not in self._open:
                return
            shard, users = self._open[path]
            if users > 1:
                self._open[path] = (shard, users - 1)
                return
            del self._open[path]
            shard.close()
            (path.parent / PID_FILE).unlink(missing_ok=True)


_shards = _OpenShards()


def _damaged(collection_dir: Path, what: str, exc: BaseException) -> str:
    """The one message of a collection whose files are damaged: what, and the way out."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (
        f"{what} ({detail}); restore {collection_dir} from a backup, or drop the collection "
        f"(adaptrag collections drop {collection_dir.name}) and ingest again"
    )


def _open_shard(path: Path, config: qe.EdgeConfig | None) -> qe.EdgeShard:
    has_segments = path.is_dir() and any(path.iterdir())
    require_free(path.parent, OPEN_NEED_BYTES, "for Qdrant Edge to open the collection")
    try:
        if has_segments:
            shard = qe.EdgeShard.load(str(path))
        elif config is None:
            raise StoreError(f"no Qdrant Edge shard at {path}; ingest into the collection first")
        else:
            shard = qe.EdgeShard.create(str(path), config)
    except StoreError:
        raise
    except Exception as exc:
        if "WouldBlock" in str(exc):
            raise StoreBusyError(_busy_message(path.parent)) from exc
        raise StoreError(
            _damaged(path.parent, f"cannot open the Qdrant Edge shard at {path}", exc)
        ) from exc
    (path.parent / PID_FILE).write_text(str(os.getpid()))
    return shard


def _busy_message(collection_dir: Path) -> str:
    try:
        owner = f"pid {int((collection_dir / PID_FILE).read_text().strip())}"
    except (OSError, ValueError):
        owner = "pid unknown"
    return (
        f"the data dir {collection_dir.parent.parent} is in use by another adaptrag process "
        f"({owner}); wait for it to finish or stop it, or run a Qdrant server and set "
        "ADAPTRAG_QDRANT_URL so several processes can share the collection"
    )


def _edge_config(spec: CollectionSpec) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={
            DENSE_VECTOR: qe.EdgeVectorParams(size=spec.dimension, distance=qe.Distance.Cosine)
        },
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


_EDGE_TYPES = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "datetime": qe.PayloadSchemaType.Datetime,
    "bool": qe.PayloadSchemaType.Bool,
}


class _EdgeFilters:
    """Qdrant Edge's filter objects (`FilterSyntax`)."""

    def match(self, key: str, values: list[Any]) -> qe.FieldCondition:
        match = qe.MatchValue(values[0]) if len(values) == 1 else qe.MatchAny(values)
        return qe.FieldCondition(key=key, match=match)

    def range(self, key: str, bounds: Range) -> qe.FieldCondition:
        if bounds.dates:
            moments = {name: t.isoformat() for name, t in bounds.instants().items()}
            return qe.FieldCondition(key=key, range=qe.RangeDateTime(**moments))
        return qe.FieldCondition(key=key, range=qe.RangeFloat(**bounds.numbers()))

    def empty(self, key: str) -> qe.IsEmptyCondition:
        return qe.IsEmptyCondition(key)

    def combine(
        self, must: list[Any] | None, must_not: list[Any] | None, should: list[Any] | None
    ) -> qe.Filter:
        return qe.Filter(must=must, must_not=must_not, should=should)


def _filter(where: Where | None) -> qe.Filter | None:
    return translate_where(where, _EdgeFilters())


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(list(vector.indices), list(vector.values))


def _fusion(request: SearchRequest) -> qe.Fusion.Rrf | qe.Fusion.Dbsf:
    if request.fusion == "dbsf":
        return qe.Fusion.Dbsf()
    return qe.Fusion.Rrf(k=RRF_K, weights=request.rrf_weights)


class EdgeStore:
    """One collection in an embedded Qdrant Edge shard (see the module docstring)."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.name = name
        self.path = collections_root(data_dir) / name
        self._shard_path = self.path / "shard"
        self._shard: qe.EdgeShard | None = None
        self._lock = threading.Lock()

    def spec(self) -> CollectionSpec | None:
        """The stored build record, or None when the collection does not exist yet."""
        try:
            return CollectionSpec.from_dict(json.loads((self.path / SPEC_FILE).read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise StoreError(
                _damaged(
                    self.path, f"the collection record {self.path / SPEC_FILE} is unreadable", exc
                )
            ) from exc

    def create(self, spec: CollectionSpec) -> None:
        """Create the shard with the fixed schema, its payload indexes, then the record."""
        self.path.mkdir(parents=True, exist_ok=True)
        shard = self._open(_edge_config(spec))
        for key, kind in INDEXES.items():
            shard.update(qe.UpdateOperation.create_field_index(key, _EDGE_TYPES[kind]))
        shard.flush()
        # The record goes last and atomically: a collection without it does not exist yet.
        tmp = self.path / f"{SPEC_FILE}.tmp"
        tmp.write_text(json.dumps(spec.to_dict(), indent=2))
        tmp.replace(self.path / SPEC_FILE)

    @contextmanager
    def _reading_files(self) -> Iterator[None]:
        """Edge's storage faults (a truncated or unreadable file: a plain `Exception` from
        its runtime, or an OSError) as one StoreError naming the files and the way out;
        argument errors (ValueError, TypeError) stay what they are."""
        try:
            yield
        except (StoreError, ValueError, TypeError):
            raise
        except Exception as exc:
            raise StoreError(
                _damaged(self.path, f"the collection {self.name!r} is damaged or unreadable", exc)
            ) from exc

    def _open(self, config: qe.EdgeConfig | None = None) -> qe.EdgeShard:
        with self._lock:
            if self._shard is None:
                if config is None and self.spec() is None:
                    raise StoreError(f"collection {self.name!r} does not exist")
                self._shard = _shards.acquire(self._shard_path, config)
            return self._shard

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert or replace points by id (idempotent); durable once the WAL has them."""
        points = [
            qe.Point(
                c.chunk_id,
                {DENSE_VECTOR: [float(x) for x in c.dense], SPARSE_VECTOR: _sparse(c.sparse)},
                c.payload,
            )
            for c in chunks
        ]
        if points:
            require_free(self.path, write_need_bytes(chunks), f"to store {len(points)} chunks")
            with self._reading_files():
                self._open().update(qe.UpdateOperation.upsert_points(points))

    def delete(self, where: Where) -> None:
        """Delete every point matching `where` (an empty filter is refused)."""
        condition = _filter(where)
        if condition is None:
            raise StoreError("refusing to delete with an empty filter; use drop() instead")
        require_free(self.path, OPEN_NEED_BYTES, "to delete points (the log records it)")
        with self._reading_files():
            self._open().update(qe.UpdateOperation.delete_points_by_filter(condition))

    def scroll(self, where: Where | None, fields: Sequence[str] | None) -> Iterator[dict[str, Any]]:
        """Payloads (only `fields`; None: all) of every matching point."""
        shard, offset = self._open(), None
        while True:
            with self._reading_files():
                records, offset = shard.scroll(
                    qe.ScrollRequest(
                        offset=offset,
                        limit=SCROLL_PAGE,
                        filter=_filter(where),
                        with_payload=True if fields is None else list(fields),
                    )
                )
            for record in records:
                yield dict(record.payload or {})
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        """Exact number of matching points."""
        with self._reading_files():
            return int(self._open().count(qe.CountRequest(exact=True, filter=_filter(where))))

    def facet(self, key: str, where: Where | None = None) -> dict[str, int]:
        """Number of points per value of an indexed payload key."""
        with self._reading_files():
            response = self._open().facet(
                qe.FacetRequest(key=key, limit=1_000_000, exact=True, filter=_filter(where))
            )
        return {str(hit.value): int(hit.count) for hit in response.hits}

    def search(self, request: SearchRequest) -> list[Source]:
        """Dense, sparse, or fused hybrid search (optionally MMR), filtered in the engine."""
        dense_vector = [float(x) for x in request.dense or []]
        dense = qe.Query.Nearest(dense_vector, using=DENSE_VECTOR)
        sparse = qe.Query.Nearest(
            _sparse(request.sparse or SparseVector([], [])), using=SPARSE_VECTOR
        )
        condition = _filter(request.where)
        # The stage that ranks by the mode's own score: fused prefetches, or one query.
        stage: dict[str, Any]
        if request.mode == "hybrid":
            stage = {
                "prefetches": [
                    qe.Prefetch(limit=request.prefetch_limit, query=q, filter=condition)
                    for q in (dense, sparse)
                ],
                "query": _fusion(request),
            }
        else:
            stage = {"query": dense if request.mode == "dense" else sparse}
        if request.mmr_diversity is None:
            query = qe.QueryRequest(
                limit=request.limit,
                filter=condition,
                with_payload=True,
                score_threshold=request.score_threshold,
                **stage,
            )
        else:
            candidates = qe.Prefetch(
                limit=request.prefetch_limit,
                filter=condition,
                score_threshold=request.score_threshold,
                **stage,
            )
            mmr = qe.Mmr(
                dense_vector,
                lambda_=1.0 - request.mmr_diversity,  # Edge weighs relevance, not diversity
                candidates_limit=request.prefetch_limit,
                using=DENSE_VECTOR,
            )
            query = qe.QueryRequest(
                limit=request.limit,
                prefetches=[candidates],
                query=mmr,
                filter=condition,
                with_payload=True,
            )
        with self._reading_files():
            points = self._open().query(query)
        return [source_from_payload(str(p.id), p.score, p.payload or {}) for p in points]

    def index_fields(self, fields: Mapping[str, str]) -> None:
        """Make the payload indexes of `fields` that the shard lacks."""
        with self._reading_files():
            shard = self._open()
            present = set(shard.info().payload_schema)
            for key, kind in fields.items():
                if key not in present:
                    shard.update(qe.UpdateOperation.create_field_index(key, _EDGE_TYPES[kind]))

    def optimize(self) -> None:
        """Merge segments and build the HNSW index after a bulk write."""
        require_free(self.path, OPEN_NEED_BYTES, "to merge the collection's segments")
        with self._reading_files():
            self._open().optimize()

    def serving(self) -> str | None:
        """The collection that serves this name (`serving.json`), None: this one."""
        try:
            data = json.loads((self.path / SERVING_FILE).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{self.path / SERVING_FILE} is unreadable ({exc}); delete it to serve "
                f"{self.name!r} itself"
            ) from exc
        version = data.get("collection") if isinstance(data, dict) else None
        return version if isinstance(version, str) and version else None

    def set_serving(self, version: str | None) -> None:
        """Point this name at `version` with one atomic file rename (None: at itself)."""
        target = self.path / SERVING_FILE
        if version is None:
            target.unlink(missing_ok=True)
            return
        tmp = self.path / f"{SERVING_FILE}.tmp"
        tmp.write_text(json.dumps({"collection": version}))
        tmp.replace(target)

    def drop(self) -> None:
        """Delete the collection's folder (taking the lock first, so a holder is not hurt)."""
        if not self.path.exists():
            return
        if self._shard_path.is_dir() and any(self._shard_path.iterdir()):
            self._open()
        self.close()
        shutil.rmtree(self.path)

    def close(self) -> None:
        """Release this store's hold on the shard; the last holder closes it."""
        with self._lock:
            if self._shard is not None:
                shard, self._shard = self._shard, None
                try:
                    shard.flush()
                except Exception as exc:
                    if free_bytes(self.path) >= OPEN_NEED_BYTES:
                        raise StoreError(f"cannot flush {self._shard_path}: {exc}") from exc
                    # A full disk: what was written is in the write-ahead log already.
                    logger.warning("could not flush %s: the disk is full", self._shard_path)
                finally:
                    _shards.release(self._shard_path)
