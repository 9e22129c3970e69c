"""`adaptrag ingest`: files and folders into a domain of a collection."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from adaptrag.cli.base import (
    EXIT_FILE_FAILED,
    JsonOption,
    app,
    cli_settings,
    emit,
)
from adaptrag.rag.settings import Settings

# --- ingest ----------------------------------------------------------------------------


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files and folders to ingest."),
    domain: str = typer.Option(..., "--domain", "-d", help="Domain of these documents (legal...)."),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help=Settings.field_help("collection")
    ),
    sync: bool = typer.Option(
        False,
        "--sync",
        help="Delete stored documents of this domain and these roots that no longer exist.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; store nothing."),
    include: list[str] = typer.Option(
        [], "--include", help="Only files matching this glob (repeatable)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Skip files matching this glob (repeatable)."
    ),
    text_field: str = typer.Option("text", help="JSON/JSONL/CSV field holding the text."),
    id_field: str = typer.Option(
        "doc_id", help="JSON/JSONL/CSV field holding the document id (then 'id')."
    ),
    title_field: str = typer.Option("title", help="JSON/JSONL/CSV field holding the title."),
    id_prefix: str = typer.Option(
        "",
        "--id-prefix",
        help="Put PREFIX/ before every document id, so two folders with the same file names "
        "stay separate documents.",
    ),
    contextualize: str | None = typer.Option(
        None,
        "--contextualize",
        help="claude | local | openai | none: " + Settings.field_help("contextualize"),
    ),
    ray: bool = typer.Option(
        False,
        "--ray",
        help="Parse and embed on Ray (pip install 'adaptrag[ray]'): a local Ray, or the "
        "cluster at --ray-address / RAY_ADDRESS. Same plan, report and stored points.",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="A running Ray cluster (ray://HOST:10001 or auto)."
    ),
    ray_actors: int | None = typer.Option(
        None, "--ray-actors", min=1, help="Embedding actors (default: one per GPU, else CPU)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Ingest documents into a collection (idempotent: unchanged files cost nothing)."""
    from adaptrag.ingest import ingest_paths, loader_options_for

    settings = cli_settings(ctx, collection=collection, contextualize=contextualize)
    distributed = None
    if ray or ray_address or ray_actors:
        from adaptrag.ingest.distributed import RayOptions

        distributed = RayOptions(address=ray_address, actors=ray_actors)
    _stop_on_sigterm()
    report = ingest_paths(
        paths,
        domain,
        settings=settings,
        sync=sync,
        dry_run=dry_run,
        include=include,
        exclude=exclude,
        loader_options=loader_options_for(
            settings,
            text_field=text_field,
            id_field=id_field,
            title_field=title_field,
            id_prefix=id_prefix,
        ),
        ray=distributed,
    )
    data = report.to_dict()
    lines = [
        f"{'planned' if dry_run else 'ingested'} into {report.collection}/{report.domain}: "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.deleted} deleted; {report.chunks_embedded} chunks embedded, "
        f"{report.chunks_total} in these documents ({report.seconds:.1f} s)"
    ]
    if report.context is not None:
        c = report.context
        lines.append(
            f"  chunk context by {c['backend']} ({c['model']}): {c['generated']} generated, "
            f"{c['cached']} cached; {c['input_tokens']} input tokens ("
            f"{c['cache_read_input_tokens']} cache reads, {c['cache_creation_input_tokens']} "
            f"cache writes), {c['output_tokens']} output, ${c['cost_usd']:.4f}"
        )
    lines += [f"  {step['action']:<9} {step['doc_id']}" for step in report.plan]
    lines += [
        f"  replaced {step['doc_id']}: was from {step['previous_source']} (gone)"
        for step in report.replaced
    ]
    lines += [f"  skipped {issue.path}: {issue.reason}" for issue in report.skipped]
    lines += [f"  FAILED  {issue.path}: {issue.reason}" for issue in report.failed]
    emit(data, as_json, "\n".join(lines))
    if not report.ok:
        raise typer.Exit(EXIT_FILE_FAILED)


def _stop_on_sigterm() -> None:
    """SIGTERM (`docker stop`, a scheduler) stops a run as Ctrl-C does: what is embedded is
    stored, one line says where it stopped, exit 130."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
