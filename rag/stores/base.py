"""The VectorStore seam: a small Protocol, the collection record, and backend-neutral types.

Every backend (Qdrant Edge in-process, Qdrant server through qdrant-client) stores the same
schema: a named dense vector, a named sparse vector with Qdrant-side IDF, and a payload with
the indexes of `INDEXES` (`domain`, `doc_id`, `source_root`, `page`). A collection remembers
how it was built (`CollectionSpec`); `check_compatible` turns a mismatch into a one-line
error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from adaptrag.rag.errors import ConfigError, EmbeddingMismatchError
from adaptrag.rag.types import Source, SparseVector

SCHEMA_VERSION = 1
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
# The payload indexes of every collection, by type.
INDEXES = {"domain": "keyword", "doc_id": "keyword", "source_root": "keyword", "page": "integer"}
RRF_K = 60  # Reciprocal Rank Fusion constant, the same for every backend
SCROLL_PAGE = 1024

Scalar = str | int | bool
SearchMode = Literal["dense", "sparse", "hybrid"]
FusionMethod = Literal["rrf", "dbsf"]


_SPEC_TYPES: dict[str, type] = {
    "embedding_model": str,
    "dimension": int,
    "distance": str,
    "query_prefix": str,
    "passage_prefix": str,
    "normalize": bool,
    "chunk_tokens": int,
    "chunk_overlap_tokens": int,
    "sparse": dict,
    "chunk_context": str,
    "generated_context": str,
    "base_embedding_model": str,
    "embedding_precision": str,
    "schema_version": int,
    "created_at": str,
}


@dataclass(frozen=True)
class CollectionSpec:
    """How a collection was built; stored with it and checked on every ingest and query."""

    embedding_model: str
    dimension: int
    distance: str = "cosine"
    query_prefix: str = ""
    passage_prefix: str = ""
    normalize: bool = True
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 32
    sparse: dict[str, Any] = field(default_factory=dict)
    chunk_context: str = "none"  # what is indexed with each chunk (ingest/titles.py)
    generated_context: str = "none"  # who wrote chunk contexts (ingest/contextualize.py)
    base_embedding_model: str = ""  # the model `embedding_model` was tuned from (ingest/tune.py)
    embedding_precision: str = (
        "fp32"  # int8: an int8-quantised model (rag/retrieval/embedding_runtime.py)
    )
    schema_version: int = SCHEMA_VERSION
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as stored beside (Edge) or inside (server metadata) the collection."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CollectionSpec:
        """Inverse of `to_dict`; unknown keys from newer versions are ignored.

        Raises `ValueError` naming the first field that is missing or of the wrong type (a
        hand-edited or corrupted record), so the caller can say which file to fix.
        """
        if not isinstance(data, Mapping):
            raise ValueError("the record is not a JSON object")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        for name in ("embedding_model", "dimension"):
            if name not in known:
                raise ValueError(f"field {name!r} is missing")
        for name, value in known.items():
            wanted = _SPEC_TYPES[name]
            # bool is an int in Python; a dimension of `true` is still wrong.
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ValueError(f"field {name!r} is {value!r}, not a {wanted.__name__}")
        if known["dimension"] < 1:
            raise ValueError(f"field 'dimension' is {known['dimension']!r}, not a positive int")
        return cls(**known)

    def fingerprint(self) -> str:
        """Stable hash of everything that decides what a stored vector means."""
        # fp32 is what every collection held before precision was recorded: left out, so
        # their fingerprints (and the adapters trained on them) stay as they were.
        identity = {
            k: v
            for k, v in self.to_dict().items()
            if k != "created_at" and (k, v) != ("embedding_precision", "fp32")
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def check_compatible(self, wanted: CollectionSpec, collection: str, *, ingest: bool) -> None:
        """Raise if `wanted` would read or write this collection's vectors wrongly.

        Embedding model, dimension, prefixes, normalization and sparse encoding must match
        for queries and ingests; chunking must also match for ingests (mixed chunk sizes in
        one collection would make a re-ingest silently inconsistent).
        """
        way_out = (
            f"use another collection (collection= or ADAPTRAG_COLLECTION) or drop this one "
            f"(adaptrag collections drop {collection})"
        )
        if self.embedding_model != wanted.embedding_model:
            raise EmbeddingMismatchError(
                f"collection {collection!r} was built with embedding model "
                f"{self.embedding_model!r}, not {wanted.embedding_model!r}; set "
                f"ADAPTRAG_EMBEDDING_MODEL={self.embedding_model} or {way_out}"
            )
        if self.embedding_precision != wanted.embedding_precision:
            raise EmbeddingMismatchError(
                f"collection {collection!r} holds {self.embedding_precision} vectors, this "
                f"embedder gives {wanted.embedding_precision}; set ADAPTRAG_EMBEDDING_RUNTIME="
                f"auto (it follows the collection) or {way_out}"
            )
        if self.dimension != wanted.dimension:
            raise EmbeddingMismatchError(
                f"collection {collection!r} holds {self.dimension}-d vectors of "
                f"{self.embedding_model!r}, the model now gives {wanted.dimension}-d; {way_out}"
            )
        for name in ("query_prefix", "passage_prefix", "normalize", "distance"):
            if getattr(self, name) != getattr(wanted, name):
                raise EmbeddingMismatchError(
                    f"collection {collection!r} was built with {name}="
                    f"{getattr(self, name)!r}, not {getattr(wanted, name)!r}; set it back or "
                    f"{way_out}"
                )
        if self.sparse != wanted.sparse:
            raise EmbeddingMismatchError(
                f"collection {collection!r} uses sparse encoding {self.sparse.get('version')!r} "
                f"with other settings than this version of adaptrag; {way_out}"
            )
        if self.schema_version != wanted.schema_version:
            raise ConfigError(
                f"collection {collection!r} has schema version {self.schema_version}, this "
                f"adaptrag writes {wanted.schema_version}; {way_out}"
            )
        if ingest and self.generated_context != wanted.generated_context:
            raise ConfigError(
                f"collection {collection!r} was built with generated chunk context "
                f"{self.generated_context!r}, not {wanted.generated_context!r}; set "
                f"ADAPTRAG_CONTEXTUALIZE={self.generated_context} (or --contextualize) or "
                f"{way_out}"
            )
        chunking = (self.chunk_tokens, self.chunk_overlap_tokens)
        if ingest and chunking != (wanted.chunk_tokens, wanted.chunk_overlap_tokens):
            raise ConfigError(
                f"collection {collection!r} was chunked with chunk_tokens={chunking[0]}, "
                f"chunk_overlap_tokens={chunking[1]}, not {wanted.chunk_tokens}/"
                f"{wanted.chunk_overlap_tokens}; set ADAPTRAG_CHUNK_TOKENS and "
                f"ADAPTRAG_CHUNK_OVERLAP_TOKENS back or {way_out}"
            )


@dataclass(frozen=True)
class StoredChunk:
    """One point to write: id, both vectors and the payload."""

    chunk_id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: dict[str, Any]


Bound = float | str  # a number, or an ISO 8601 date or date-time


@dataclass(frozen=True)
class Range:
    """Bounds on a payload value: numbers, or ISO 8601 dates and date-times (compared as
    instants). At least one bound is set; all bounds are of one kind."""

    gt: Bound | None = None
    gte: Bound | None = None
    lt: Bound | None = None
    lte: Bound | None = None

    @property
    def bounds(self) -> dict[str, Bound]:
        """The bounds that are set, by name."""
        given = {"gt": self.gt, "gte": self.gte, "lt": self.lt, "lte": self.lte}
        return {name: value for name, value in given.items() if value is not None}

    @property
    def dates(self) -> bool:
        """Whether the bounds are dates (else numbers)."""
        return any(isinstance(v, str) for v in self.bounds.values())

    def numbers(self) -> dict[str, float]:
        """The bounds as numbers (a range of numbers)."""
        return {name: float(value) for name, value in self.bounds.items()}

    def instants(self) -> dict[str, datetime]:
        """The bounds as aware date-times (a range of dates; UTC where none is said)."""
        out = {}
        for name, value in self.bounds.items():
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            out[name] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return out


@dataclass(frozen=True)
class Where:
    """A payload filter every backend understands.

    `equals` keys must match the value (or one of a list of values); `not_equals` keys must
    not; `ranges` keys must lie within their `Range`; `exists` keys must hold a value
    (True) or hold none: missing, null or an empty list (False). Conditions are ANDed.
    Backends translate it into the store query itself, so access rules filter inside
    Qdrant, never after it.
    """

    equals: Mapping[str, Scalar | Sequence[Scalar]] = field(default_factory=dict)
    not_equals: Mapping[str, Scalar | Sequence[Scalar]] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    exists: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchRequest:
    """A dense, sparse or hybrid (fused) search, optionally diversified by MMR.

    Hybrid takes the `prefetch_limit` best of each side and fuses them: `rrf` (Reciprocal
    Rank Fusion, the dense ranking weighted `dense_weight` against the sparse one's 1.0) or
    `dbsf` (Qdrant's Distribution-Based Score Fusion: each side's scores normalized by their
    mean and spread, then summed). With `mmr_diversity` (0 = relevance only, 1 = most
    diverse), the `prefetch_limit` best candidates of the mode are re-ranked by Maximal
    Marginal Relevance on the dense vectors, and scores are MMR scores; `score_threshold`
    always applies to the mode's own scores.
    """

    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None
    mode: SearchMode = "hybrid"
    where: Where | None = None
    limit: int = 5
    score_threshold: float | None = None
    prefetch_limit: int = 50
    mmr_diversity: float | None = None
    fusion: FusionMethod = "rrf"
    dense_weight: float = 1.0

    @property
    def rrf_weights(self) -> list[float] | None:
        """RRF weights of the (dense, sparse) prefetches; None when equal."""
        return None if self.dense_weight == 1.0 else [self.dense_weight, 1.0]


class VectorStore(Protocol):
    """One collection of chunks in some Qdrant, whichever engine runs it."""

    name: str

    def spec(self) -> CollectionSpec | None:
        """The stored build record, or None when the collection does not exist yet."""
        ...

    def create(self, spec: CollectionSpec) -> None:
        """Create the collection with the fixed schema and record `spec`."""
        ...

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert or replace points by id (idempotent)."""
        ...

    def delete(self, where: Where) -> None:
        """Delete every point matching `where`."""
        ...

    def scroll(self, where: Where | None, fields: Sequence[str] | None) -> Iterator[dict[str, Any]]:
        """Payloads (only `fields`; None: whole payloads) of every matching point, in no
        particular order."""
        ...

    def count(self, where: Where | None = None) -> int:
        """Exact number of matching points."""
        ...

    def facet(self, key: str, where: Where | None = None) -> dict[str, int]:
        """Number of points per value of an indexed payload key."""
        ...

    def search(self, request: SearchRequest) -> list[Source]:
        """Best matches first, with payloads."""
        ...

    def optimize(self) -> None:
        """Build indexes after a bulk write (a no-op where the server does it itself)."""
        ...

    def index_fields(self, fields: Mapping[str, str]) -> None:
        """Make payload indexes {name: type} (keyword, integer, float, datetime, bool) that
        do not exist yet; an existing index is kept."""
        ...

    def serving(self) -> str | None:
        """The collection that serves this name (blue/green versions), None: this one."""
        ...

    def set_serving(self, version: str | None) -> None:
        """Point this name at another collection (atomically), or back at itself (None)."""
        ...

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        ...

    def close(self) -> None:
        """Release the collection (file locks, connections)."""
        ...


def ensure_collection(
    store: VectorStore, wanted: CollectionSpec, *, ingest: bool
) -> CollectionSpec:
    """Create the collection from `wanted`, or check the existing one is compatible with it."""
    existing = store.spec()
    if existing is None:
        store.create(wanted)
        return wanted
    existing.check_compatible(wanted, store.name, ingest=ingest)
    return existing


def source_from_payload(chunk_id: str, score: float, payload: Mapping[str, Any]) -> Source:
    """The `Source` for a stored point; the payload (minus the text) becomes metadata."""
    metadata = {key: value for key, value in payload.items() if key != "text"}
    return Source(
        doc_id=str(payload.get("doc_id", "")),
        chunk_id=chunk_id,
        text=str(payload.get("text", "")),
        score=float(score),
        metadata=metadata,
    )


class FilterSyntax(Protocol):
    """How one backend writes a filter's parts (`translate_where` puts them together)."""

    def match(self, key: str, values: list[Scalar]) -> Any:
        """`key` equals one of `values` (all of one type)."""
        ...

    def range(self, key: str, bounds: Range) -> Any:
        """`key` lies within `bounds`."""
        ...

    def empty(self, key: str) -> Any:
        """`key` is missing, null or an empty list."""
        ...

    def combine(
        self, must: list[Any] | None, must_not: list[Any] | None, should: list[Any] | None
    ) -> Any:
        """Every `must`, no `must_not` and (when given) at least one `should`."""
        ...


def translate_where(where: Where | None, syntax: FilterSyntax) -> Any:
    """A backend's filter for `where` (None when it filters nothing)."""
    if where is None or not (where.equals or where.not_equals or where.ranges or where.exists):
        return None

    def matches(items: Mapping[str, Scalar | Sequence[Scalar]]) -> list[Any]:
        built = []
        for key, value in items.items():
            values = [value] if isinstance(value, str | int | bool) else list(value)
            # Qdrant matches one type per condition: "47" and 47 are two alternatives.
            kinds: dict[type, list[Scalar]] = {}
            for v in values:
                kinds.setdefault(type(v), []).append(v)
            parts = [syntax.match(key, same) for same in kinds.values()]
            built.append(parts[0] if len(parts) == 1 else syntax.combine(None, None, parts))
        return built

    must = matches(where.equals) + [syntax.range(k, r) for k, r in where.ranges.items()]
    must += [syntax.empty(key) for key, present in where.exists.items() if not present]
    must_not = matches(where.not_equals)
    must_not += [syntax.empty(key) for key, present in where.exists.items() if present]
    return syntax.combine(must or None, must_not or None, None)
