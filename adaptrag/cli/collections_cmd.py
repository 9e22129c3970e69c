"""`adaptrag collections ...`: list, inspect and drop collections."""

from __future__ import annotations

import sys
from typing import Any

import typer

from adaptrag.cli.base import (
    JsonOption,
    cli_settings,
    cli_store,
    collections_app,
    emit,
)
from adaptrag.rag.errors import ConfigError, StoreError
from adaptrag.rag.settings import Settings

# --- collections -----------------------------------------------------------------------


def _describe(settings: Settings, name: str, *, detail: bool) -> dict[str, Any]:
    from adaptrag.rag.retrieval.collection_info import describe_collection

    store = cli_store(settings, name)
    try:
        return describe_collection(store, name, detail=detail)
    finally:
        store.close()


@collections_app.command("list")
def collections_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the collections with their embedding model and size."""
    from adaptrag.rag.stores import collection_names, connection

    settings = cli_settings(ctx)
    names = collection_names(**connection(settings))
    rows = []
    for name in names:
        try:
            rows.append(_describe(settings, name, detail=False))
        except StoreError as error:  # one busy or broken collection must not hide the others
            rows.append({"name": name, "error": str(error)})
    human = (
        "\n".join(
            f"{r['name']}\t{r.get('chunks', '?')} chunks\t"
            f"{r.get('embedding_model', r.get('error'))}"
            + (f"\tserved by {r['serving']}" if r.get("serving", r["name"]) != r["name"] else "")
            for r in rows
        )
        or f"no collections yet (data dir {settings.data_dir}); run `adaptrag ingest`"
    )
    emit(rows, as_json, human)


@collections_app.command("info")
def collections_info(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Collection name."),
    as_json: bool = JsonOption,
) -> None:
    """Show how a collection was built and what it holds per domain."""
    info = _describe(cli_settings(ctx), name, detail=True)
    lines = [
        f"{info['name']}: {info['chunks']} chunks, {info['embedding_model']} "
        f"({info['dimension']}-d), fingerprint {info['fingerprint']}"
    ]
    lines += [
        f"  {domain}: {counts['documents']} documents, {counts['chunks']} chunks"
        for domain, counts in info["domains"].items()
    ]
    emit(info, as_json, "\n".join(lines))


@collections_app.command("drop")
def collections_drop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Collection name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a collection and everything in it."""
    settings = cli_settings(ctx)
    _describe(settings, name, detail=False)  # a clear error if it does not exist
    served = _served_by(settings, name)
    if served:
        raise ConfigError(
            f"collection {name!r} serves {served[0]!r}; switch it first (adaptrag collections "
            f"switch {served[0]} [VERSION]), then drop"
        )
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise ConfigError(f"refusing to drop {name!r} without confirmation; pass --yes")
        typer.confirm(f"Drop collection {name!r} and all its chunks?", abort=True)
    store = cli_store(settings, name)
    store.drop()
    emit({"dropped": name}, as_json, f"dropped {name}")


def _served_by(settings: Settings, version: str) -> list[str]:
    """The collection names whose queries go to `version`."""
    from adaptrag.rag.stores import collection_names, connection

    names = []
    for name in collection_names(**connection(settings)):
        store = cli_store(settings, name)
        try:
            if name != version and store.serving() == version:
                names.append(name)
        finally:
            store.close()
    return names


@collections_app.command("switch")
def collections_switch(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Collection name that queries and ingests use."),
    version: str | None = typer.Argument(
        None, help="Collection that serves NAME from now on (NAME-vN); none: NAME itself."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Point a collection name at one of its versions (blue/green; atomic), or back."""
    settings = cli_settings(ctx)
    root = _describe(settings, name, detail=False)
    if version is not None and version != name:
        target = _describe(settings, version, detail=False)
        if target["dimension"] != root["dimension"]:
            raise ConfigError(
                f"{version!r} holds {target['dimension']}-d vectors, {name!r} "
                f"{root['dimension']}-d; it is not a version of {name!r}"
            )
    store = cli_store(settings, name)
    try:
        store.set_serving(None if version in (None, name) else version)
    finally:
        store.close()
    serving = version or name
    emit({"name": name, "serving": serving}, as_json, f"{name} is served by {serving}")
