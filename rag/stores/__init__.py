"""Vector stores: the `VectorStore` Protocol and the factory that picks a backend.

Qdrant Edge (embedded, under the data dir) unless `qdrant_url` is set, then qdrant-client.
Backend modules are imported here lazily, so their libraries load only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptrag.rag.stores.base import (
    CollectionSpec,
    SearchRequest,
    StoredChunk,
    VectorStore,
    Where,
    ensure_collection,
)

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

__all__ = [
    "CollectionSpec",
    "SearchRequest",
    "StoredChunk",
    "VectorStore",
    "Where",
    "collection_names",
    "connection",
    "ensure_collection",
    "open_store",
    "store_for",
]


def connection(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `open_store` and `collection_names` that `settings` give."""
    key = settings.store.qdrant_api_key
    return {
        "data_dir": settings.data_dir,
        "qdrant_url": settings.store.qdrant_url,
        "qdrant_api_key": key.get_secret_value() if key else None,
    }


def store_for(
    settings: Settings, collection: str | None = None, *, follow: bool = True
) -> VectorStore:
    """The store of `collection` (default: the configured one) as `settings` describe it.

    With `follow`, a name switched to another version of the collection (blue/green, see
    `VectorStore.serving`) opens that version; `follow=False` opens the named one itself.
    """

    def named(name: str) -> VectorStore:
        return open_store(
            name,
            **connection(settings),
            shards=settings.store.qdrant_shards,
            replicas=settings.store.qdrant_replicas,
            write_consistency=settings.store.qdrant_write_consistency,
            read_consistency=settings.store.qdrant_read_consistency,
            shard_by_domain=settings.store.qdrant_shard_by_domain,
        )

    store = named(collection or settings.store.collection)
    version = store.serving() if follow else None
    if version is None:
        return store
    store.close()
    return named(version)


def open_store(
    collection: str,
    *,
    data_dir: Path,
    qdrant_url: str | None = None,
    qdrant_api_key: str | None = None,
    shards: int = 1,
    replicas: int = 1,
    write_consistency: int = 1,
    read_consistency: str | None = None,
    shard_by_domain: bool = False,
) -> VectorStore:
    """The store for `collection`: embedded Edge under `data_dir`, or the server at `qdrant_url`
    (where a collection it creates gets `shards` shards of `replicas` copies each; the
    cluster settings are `ServerStore`'s)."""
    if qdrant_url:
        from adaptrag.rag.stores.server import ServerStore, shared_client
        from adaptrag.rag.stores.server import read_consistency as consistency

        client = shared_client(qdrant_url, qdrant_api_key)
        return ServerStore(
            client,
            collection,
            shards=shards,
            replicas=replicas,
            write_consistency=write_consistency,
            read_consistency=consistency(read_consistency),
            shard_by_domain=shard_by_domain,
        )
    from adaptrag.rag.stores.edge import EdgeStore

    return EdgeStore(data_dir, collection)


def collection_names(
    *, data_dir: Path, qdrant_url: str | None = None, qdrant_api_key: str | None = None
) -> list[str]:
    """Names of the collections adaptrag built in the configured Qdrant."""
    if qdrant_url:
        from adaptrag.rag.stores import server

        return server.list_collections(server.shared_client(qdrant_url, qdrant_api_key))
    from adaptrag.rag.stores import edge

    return edge.list_collections(data_dir)
