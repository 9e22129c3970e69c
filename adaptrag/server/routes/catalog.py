"""What a key may see of the collections and adapters: only its own domains."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import APIRouter

from adaptrag.rag.errors import StoreError
from adaptrag.server.dependencies import Caller, Server, ServerDep
from adaptrag.server.responses import AdapterOut, CollectionOut

router = APIRouter()


@router.get(
    "/v1/collections",
    summary="Collections and what the key may see of them",
    response_model=list[CollectionOut],
)
async def collections(caller: Caller, server: ServerDep) -> list[dict[str, Any]]:
    """Every collection, with the counts of the domains the key may read."""
    from adaptrag.rag.retrieval.collection_info import describe_collection
    from adaptrag.rag.stores import collection_names, connection, store_for

    settings = server.settings

    def work() -> list[dict[str, Any]]:
        rows = []
        for name in collection_names(**connection(settings)):
            store = store_for(settings, name)
            try:
                row = describe_collection(store, name, detail=True, domains=caller.domains)
                if row.get("embedding_model"):
                    row["embedding_model"] = server.paths.model(str(row["embedding_model"]))
                rows.append(row)
            except StoreError as error:
                rows.append({"name": name, "error": str(error)})
            finally:
                store.close()
        shown: list[dict[str, Any]] = server.paths.value(rows)  # one look at the stored roots
        return shown

    return await server.blocking(work)


@router.get(
    "/v1/adapters",
    summary="Registered adapters of the domains the key may read",
    response_model=list[AdapterOut],
)
async def adapters(caller: Caller, server: ServerDep) -> list[dict[str, Any]]:
    """The registered adapters of the domains the key may read."""
    from adaptrag.adapters import describe_adapters

    def work() -> list[dict[str, Any]]:
        listed = describe_adapters(server.settings)
        readable = [_named(server, a) for a in listed if caller.may_read(a["domain"])]
        shown: list[dict[str, Any]] = server.paths.value(readable)  # one look at the roots
        return shown

    return await server.blocking(work)


def _named(server: Server, adapter: dict[str, Any]) -> dict[str, Any]:
    """An adapter's record with its training file and base model by their names (its other
    paths go through `PublicPaths.value` with the rest of the list)."""
    data = dict(adapter.get("data") or {})
    if "source" in data:
        data["source"] = PurePath(str(data["source"])).name
    base_model = server.paths.model(str(adapter.get("base_model", "")))
    return {**adapter, "data": data, "base_model": base_model}
