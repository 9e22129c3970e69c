"""The link between the encoders and a collection: what a collection built by them is.

Ingest and queries both describe the collection they expect from the embedder and sparse
encoder in use, then check it against the one stored (`CollectionSpec.check_compatible`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any

from adaptrag.rag.errors import CollectionNotFoundError
from adaptrag.rag.retrieval.embedder import Embedder
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.stores.base import CollectionSpec, VectorStore, Where


def wanted_spec(
    embedder: Embedder,
    sparse: SparseEncoder,
    *,
    chunk_tokens: int,
    chunk_overlap_tokens: int,
    dimension: int,
    chunk_context: str = "none",
    generated_context: str = "none",
    base_embedding_model: str = "",
) -> CollectionSpec:
    """The record a collection built by these encoders and chunk settings carries."""
    return CollectionSpec(
        embedding_model=embedder.model_id,
        dimension=dimension,
        query_prefix=embedder.query_prefix,
        passage_prefix=embedder.passage_prefix,
        normalize=embedder.normalize,
        chunk_tokens=chunk_tokens,
        chunk_overlap_tokens=chunk_overlap_tokens,
        sparse=sparse.config.as_dict(),
        chunk_context=chunk_context,
        generated_context=generated_context,
        base_embedding_model=base_embedding_model,
        embedding_precision=embedder.precision,
    )


def embedder_for(embedder: Embedder, spec: CollectionSpec) -> Embedder:
    """The embedder that reads `spec`'s collection: `embedder`, or its tuned version when
    the collection was built by a model tuned from it (`adaptrag embeddings tune`), giving
    the collection's precision when its runtime follows the collection (`auto`)."""
    if spec.base_embedding_model and spec.base_embedding_model == embedder.model_id:
        embedder = embedder.with_model(spec.embedding_model)
    return embedder.with_precision(spec.embedding_precision)


def domain_snapshot(store: VectorStore, domain: str) -> str:
    """A hash of which documents (and versions) a domain holds: what an adapter was trained on.

    It changes when a document of the domain is added, changed or deleted.
    """
    pairs = sorted(
        (str(p.get("doc_id")), str(p.get("content_hash")))
        for p in store.scroll(Where(equals={"domain": domain}), ["doc_id", "content_hash"])
    )
    return hashlib.sha256(json.dumps(sorted(set(pairs))).encode()).hexdigest()[:16]


def describe_collection(
    store: VectorStore,
    name: str,
    *,
    detail: bool,
    domains: Collection[str] | None = None,
) -> dict[str, Any]:
    """What a collection is (model, size, fingerprint) and, with `detail`, what each domain
    holds and the full spec. `domains` limits what is shown to those domains (counts too)."""
    spec = store.spec()
    if spec is None:
        raise CollectionNotFoundError(
            f"collection {name!r} does not exist; see `adaptrag collections list`"
        )
    visible = None if domains is None else Where(equals={"domain": sorted(domains)})
    info: dict[str, Any] = {
        "name": name,
        "embedding_model": spec.embedding_model,
        "dimension": spec.dimension,
        "chunks": store.count(visible),
        "fingerprint": spec.fingerprint(),
        "serving": store.serving() or name,  # the version queries of this name go to
    }
    if detail:
        chunks_by_domain = store.facet("domain", visible)
        info["domains"] = {
            domain: {
                "chunks": chunks,
                "documents": len(store.facet("doc_id", Where(equals={"domain": domain}))),
            }
            for domain, chunks in sorted(chunks_by_domain.items())
        }
        info["spec"] = spec.to_dict()
    return info
