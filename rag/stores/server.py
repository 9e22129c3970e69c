"""Qdrant server backend through qdrant-client: docker-compose, a cluster, Qdrant Cloud.

The build record lives in the collection's own metadata (`metadata["adaptrag"]`), so every
client of the same server sees it. `QdrantClient(":memory:")` runs this same code
in-process for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from adaptrag.rag.errors import StoreError
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
from adaptrag.rag.types import Source, SparseVector

METADATA_KEY = "adaptrag"
SERVING_KEY = "adaptrag_serving"  # the collection version serving this name
T = TypeVar("T")


class _Clients:
    """One client per (url, key) in this process: ':memory:' must be one engine, not many."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None], QdrantClient] = {}

    def get(self, url: str, api_key: str | None) -> QdrantClient:
        with self._lock:
            key = (url, api_key)
            if key not in self._clients:
                if url == ":memory:":
                    self._clients[key] = QdrantClient(location=":memory:")
                else:
                    self._clients[key] = QdrantClient(url=url, api_key=api_key)
            return self._clients[key]


_clients = _Clients()


def shared_client(url: str, api_key: str | None = None) -> QdrantClient:
    """This process's client for `url`: an http(s) URL, or ':memory:' for the in-process engine."""
    return _clients.get(url, api_key)


def list_collections(client: QdrantClient) -> list[str]:
    """Names of the collections on the server that adaptrag built, sorted."""
    names = [c.name for c in _call(client, "list collections", client.get_collections).collections]
    return sorted(n for n in names if _metadata(client, n) is not None)


def _metadata(client: QdrantClient, name: str) -> dict[str, Any] | None:
    info = _call(client, f"read collection {name!r}", lambda: client.get_collection(name))
    metadata = info.config.metadata or {}
    spec = metadata.get(METADATA_KEY)
    return spec if isinstance(spec, dict) else None


def _call(client: QdrantClient, what: str, fn: Callable[[], T]) -> T:
    """Run one client call, turning transport and server errors into `StoreError`."""
    try:
        return fn()
    except UnexpectedResponse as exc:
        raise StoreError(
            f"Qdrant refused to {what}: HTTP {exc.status_code} {exc.reason_phrase}"
        ) from exc
    except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
        raise StoreError(
            f"cannot reach Qdrant to {what} ({exc}); check ADAPTRAG_QDRANT_URL and that the "
            "server is up"
        ) from exc
    except ValueError as exc:  # local mode reports a missing collection this way
        raise StoreError(f"Qdrant could not {what}: {exc}") from exc


_SERVER_TYPES = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "float": models.PayloadSchemaType.FLOAT,
    "datetime": models.PayloadSchemaType.DATETIME,
    "bool": models.PayloadSchemaType.BOOL,
}


class _ServerFilters:
    """qdrant-client's filter models (`FilterSyntax`)."""

    def match(self, key: str, values: list[Any]) -> models.FieldCondition:
        match: models.MatchValue | models.MatchAny = (
            models.MatchValue(value=values[0]) if len(values) == 1 else models.MatchAny(any=values)
        )
        return models.FieldCondition(key=key, match=match)

    def range(self, key: str, bounds: Range) -> models.FieldCondition:
        if bounds.dates:
            return models.FieldCondition(key=key, range=models.DatetimeRange(**bounds.instants()))
        return models.FieldCondition(key=key, range=models.Range(**bounds.numbers()))

    def empty(self, key: str) -> models.IsEmptyCondition:
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))

    def combine(
        self, must: list[Any] | None, must_not: list[Any] | None, should: list[Any] | None
    ) -> models.Filter:
        return models.Filter(must=must, must_not=must_not, should=should)


def _filter(where: Where | None) -> models.Filter | None:
    return translate_where(where, _ServerFilters())


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _fusion(request: SearchRequest) -> models.RrfQuery | models.FusionQuery:
    if request.fusion == "dbsf":
        return models.FusionQuery(fusion=models.Fusion.DBSF)
    return models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=request.rrf_weights))


def read_consistency(value: str | None) -> int | models.ReadConsistencyType | None:
    """A read consistency setting: a number of replicas, or majority / quorum / all."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    return models.ReadConsistencyType(value)


class ServerStore:
    """One collection on a Qdrant server (or qdrant-client's in-process engine).

    On a cluster: a collection it creates gets `shards` shards of `replicas` copies, and a
    write is acknowledged once `write_consistency` copies hold it; a search reads
    `read_consistency` copies (None: one). With `shard_by_domain`, the collection is created
    with custom sharding and each domain gets its own shard key (`shards` shards of it): a
    search within one domain then reads only that domain's shards.
    """

    def __init__(
        self,
        client: QdrantClient,
        name: str,
        *,
        shards: int = 1,
        replicas: int = 1,
        write_consistency: int = 1,
        read_consistency: int | models.ReadConsistencyType | None = None,
        shard_by_domain: bool = False,
    ) -> None:
        self.client = client
        self.name = name
        self.shards = shards
        self.replicas = replicas
        self.write_consistency = write_consistency
        self.read_consistency = read_consistency
        self.shard_by_domain = shard_by_domain
        self._custom: bool | None = None  # whether the collection has custom sharding
        self._shard_keys: set[str] = set()
        self._keys_lock = threading.Lock()

    def _exists(self) -> bool:
        return bool(
            _call(self.client, "list collections", lambda: self.client.collection_exists(self.name))
        )

    def spec(self) -> CollectionSpec | None:
        """The build record from the collection's metadata, or None when it does not exist."""
        if not self._exists():
            return None
        data = _metadata(self.client, self.name)
        if data is None:
            raise StoreError(
                f"collection {self.name!r} on the Qdrant server was not built by adaptrag; "
                "choose another collection="
            )
        try:
            return CollectionSpec.from_dict(data)
        except ValueError as exc:
            raise StoreError(
                f"the build record in collection {self.name!r}'s metadata is damaged ({exc}); "
                f"drop the collection (adaptrag collections drop {self.name}) and ingest again"
            ) from exc

    def create(self, spec: CollectionSpec) -> None:
        """Create the collection with the fixed schema, its payload indexes and the record."""

        def create() -> None:
            self.client.create_collection(
                self.name,
                vectors_config={
                    DENSE_VECTOR: models.VectorParams(
                        size=spec.dimension, distance=models.Distance.COSINE
                    )
                },
                sparse_vectors_config={
                    SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
                metadata={METADATA_KEY: spec.to_dict()},
                shard_number=None if self.shard_by_domain else self.shards,
                replication_factor=self.replicas,
                write_consistency_factor=self.write_consistency,
                sharding_method=models.ShardingMethod.CUSTOM if self.shard_by_domain else None,
            )
            for key, kind in INDEXES.items():
                self.client.create_payload_index(self.name, key, _SERVER_TYPES[kind])

        _call(self.client, f"create collection {self.name!r}", create)
        self._custom = self.shard_by_domain

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert or replace points by id (idempotent), waiting until they are stored."""
        points = [
            models.PointStruct(
                id=c.chunk_id,
                vector={
                    DENSE_VECTOR: [float(x) for x in c.dense],
                    SPARSE_VECTOR: _sparse(c.sparse),
                },
                payload=c.payload,
            )
            for c in chunks
        ]
        if not points:
            return
        if not self._custom_sharding():
            _call(self.client, "upsert", lambda: self.client.upsert(self.name, points, wait=True))
            return
        by_domain: dict[str, list[models.PointStruct]] = {}
        for point in points:
            by_domain.setdefault(str((point.payload or {}).get("domain")), []).append(point)
        for domain, part in by_domain.items():
            self._ensure_shard_key(domain)
            _call(
                self.client,
                "upsert",
                lambda d=domain, p=part: self.client.upsert(  # type: ignore[misc]
                    self.name, p, wait=True, shard_key_selector=d
                ),
            )

    def _custom_sharding(self) -> bool:
        """Whether the collection is sharded by domain (read once from the server)."""
        if self._custom is None:
            info = _call(
                self.client, "read collection", lambda: self.client.get_collection(self.name)
            )
            self._custom = info.config.params.sharding_method == models.ShardingMethod.CUSTOM
        return self._custom

    def _ensure_shard_key(self, domain: str) -> None:
        """Create a domain's shard key before its first write (once; another writer may
        have created it already)."""
        with self._keys_lock:
            if domain in self._shard_keys:
                return
            try:
                self.client.create_shard_key(
                    self.name,
                    domain,
                    shards_number=self.shards,
                    replication_factor=self.replicas,
                )
            except UnexpectedResponse as exc:
                if "already exists" not in str(exc):
                    raise StoreError(
                        f"Qdrant refused to create shard key {domain!r}: HTTP "
                        f"{exc.status_code} {exc.reason_phrase}"
                    ) from exc
            self._shard_keys.add(domain)

    def _shard_key(self, where: Where | None) -> str | None:
        """The shard key a filtered read can stay within: its one domain, if sharded so."""
        domain = (where.equals if where else {}).get("domain")
        if isinstance(domain, str) and self._custom_sharding():
            return domain
        return None

    def delete(self, where: Where) -> None:
        """Delete every point matching `where` (an empty filter is refused)."""
        condition = _filter(where)
        if condition is None:
            raise StoreError("refusing to delete with an empty filter; use drop() instead")
        selector = models.FilterSelector(filter=condition)
        _call(self.client, "delete", lambda: self.client.delete(self.name, selector, wait=True))

    def scroll(self, where: Where | None, fields: Sequence[str] | None) -> Iterator[dict[str, Any]]:
        """Payloads (only `fields`; None: all) of every matching point."""
        offset: Any = None
        while True:
            page = partial(
                self.client.scroll,
                self.name,
                scroll_filter=_filter(where),
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=True if fields is None else list(fields),
            )
            records, offset = _call(self.client, "scroll", page)
            for record in records:
                yield dict(record.payload or {})
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        """Exact number of matching points."""
        result = _call(
            self.client,
            "count",
            lambda: self.client.count(self.name, count_filter=_filter(where), exact=True),
        )
        return int(result.count)

    def facet(self, key: str, where: Where | None = None) -> dict[str, int]:
        """Number of points per value of an indexed payload key."""
        response = _call(
            self.client,
            "facet",
            lambda: self.client.facet(
                self.name, key=key, facet_filter=_filter(where), limit=1_000_000, exact=True
            ),
        )
        return {str(hit.value): int(hit.count) for hit in response.hits}

    def search(self, request: SearchRequest) -> list[Source]:
        """Dense, sparse, or fused hybrid search (optionally MMR), filtered in the engine."""
        condition = _filter(request.where)
        dense = [float(x) for x in request.dense or []]
        sparse = _sparse(request.sparse or SparseVector([], []))
        # The stage that ranks by the mode's own score: fused prefetches, or one query.
        stage: dict[str, Any]
        if request.mode == "hybrid":
            stage = {
                "prefetch": [
                    models.Prefetch(
                        query=vector, using=using, limit=request.prefetch_limit, filter=condition
                    )
                    for vector, using in ((dense, DENSE_VECTOR), (sparse, SPARSE_VECTOR))
                ],
                "query": _fusion(request),
            }
        elif request.mode == "dense":
            stage = {"query": dense, "using": DENSE_VECTOR}
        else:
            stage = {"query": sparse, "using": SPARSE_VECTOR}
        if request.mmr_diversity is None:
            kwargs = {**stage, "score_threshold": request.score_threshold}
        else:
            candidates = models.Prefetch(
                limit=request.prefetch_limit,
                filter=condition,
                score_threshold=request.score_threshold,
                **stage,
            )
            mmr = models.Mmr(
                diversity=request.mmr_diversity, candidates_limit=request.prefetch_limit
            )
            kwargs = {
                "prefetch": [candidates],
                "query": models.NearestQuery(nearest=dense, mmr=mmr),
                "using": DENSE_VECTOR,
            }
        response = _call(
            self.client,
            "search",
            lambda: self.client.query_points(
                self.name,
                query_filter=condition,
                limit=request.limit,
                with_payload=True,
                consistency=self.read_consistency,
                shard_key_selector=self._shard_key(request.where),
                **kwargs,
            ),
        )
        return [source_from_payload(str(p.id), p.score, p.payload or {}) for p in response.points]

    def index_fields(self, fields: Mapping[str, str]) -> None:
        """Make the payload indexes of `fields` that the collection lacks."""

        def index() -> None:
            present = set(self.client.get_collection(self.name).payload_schema or {})
            for key, kind in fields.items():
                if key not in present:
                    self.client.create_payload_index(self.name, key, _SERVER_TYPES[kind])

        _call(self.client, f"index fields of collection {self.name!r}", index)

    def optimize(self) -> None:
        """The server indexes in the background; nothing to do."""

    def serving(self) -> str | None:
        """The collection that serves this name (from this one's metadata), None: this one."""
        if not self._exists():
            return None
        info = _call(self.client, "read collection", lambda: self.client.get_collection(self.name))
        version = (info.config.metadata or {}).get(SERVING_KEY)
        return version if isinstance(version, str) and version else None

    def set_serving(self, version: str | None) -> None:
        """Point this name at `version` with one metadata update (None: at itself)."""
        _call(
            self.client,
            f"switch collection {self.name!r}",
            lambda: self.client.update_collection(self.name, metadata={SERVING_KEY: version}),
        )

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        _call(
            self.client,
            f"drop collection {self.name!r}",
            lambda: self.client.delete_collection(self.name),
        )

    def close(self) -> None:
        """The client is shared; closing a collection releases nothing."""
