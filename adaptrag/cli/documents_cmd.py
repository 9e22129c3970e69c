"""`adaptrag documents ...`: list, show and delete the documents of a domain."""

from __future__ import annotations

import sys

import typer

from adaptrag.cli.base import JsonOption, cli_settings, documents_app, emit
from adaptrag.rag.errors import ConfigError

DomainOption = typer.Option(..., "--domain", "-d", help="The domain the documents belong to.")
CollectionOption = typer.Option(
    None, "--collection", help="Collection (default: ADAPTRAG_COLLECTION)."
)


@documents_app.command("list")
def documents_list(
    ctx: typer.Context,
    domain: str = DomainOption,
    collection: str | None = CollectionOption,
    as_json: bool = JsonOption,
) -> None:
    """List a domain's documents: chunks, pages, size, source and when they were ingested."""
    from adaptrag.ingest import list_documents

    infos = list_documents(domain, settings=cli_settings(ctx), collection=collection)
    human = "\n".join(
        f"{i.doc_id}\t{i.chunks} chunks\t"
        + (f"{i.pages} pages\t" if i.pages is not None else "")
        + f"{i.characters:,} chars\t{i.ingested_at[:19]}\t{i.source}"
        + ("" if i.complete else "\t(partly stored: ingest it again)")
        for i in infos
    )
    emit(
        [i.to_dict() for i in infos],
        as_json,
        human or f"no documents in domain {domain!r}; ingest some with `adaptrag ingest`",
    )


@documents_app.command("show")
def documents_show(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="The document's id (as `documents list` shows it)."),
    domain: str = DomainOption,
    collection: str | None = CollectionOption,
    as_json: bool = JsonOption,
) -> None:
    """Show one document's record and its text as stored, page by page where known."""
    from adaptrag.ingest import get_document

    stored = get_document(domain, doc_id, settings=cli_settings(ctx), collection=collection)
    info = stored.info
    lines = [
        f"{info.doc_id} ({info.domain}): {info.title}",
        f"  source {info.source}, {info.chunks} chunks"
        + (f", {info.pages} pages" if info.pages is not None else "")
        + f", ingested {info.ingested_at}",
        "",
    ]
    for page, text in stored.chunks:
        lines += [f"--- p. {page}" if page is not None else "---", text]
    emit(stored.to_dict(), as_json, "\n".join(lines))


@documents_app.command("delete")
def documents_delete(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="The document's id (as `documents list` shows it)."),
    domain: str = DomainOption,
    collection: str | None = CollectionOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete one document (all its chunks, at once). Its file, ingested again, comes back."""
    from adaptrag.ingest import delete_document, get_document

    settings = cli_settings(ctx)
    get_document(domain, doc_id, settings=settings, collection=collection)  # a clear 'no such'
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise ConfigError(f"refusing to delete {doc_id!r} without confirmation; pass --yes")
        typer.confirm(f"Delete document {doc_id!r} of domain {domain!r}?", abort=True)
    chunks = delete_document(domain, doc_id, settings=settings, collection=collection)
    emit(
        {"deleted": doc_id, "domain": domain, "chunks": chunks},
        as_json,
        f"deleted {doc_id} ({chunks} chunks) from {domain}",
    )
