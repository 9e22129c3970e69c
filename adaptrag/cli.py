"""The `adaptrag` command: a thin layer over the Python API.

Every command takes `--json` for one machine-readable object on stdout. Errors are one
line on stderr; exit codes: 0 ok, 1 some input file failed (the rest was stored),
2 bad usage or configuration, 3 the store or a model failed at run time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    StoreError,
    UpstreamAuthError,
)
from rag.settings import Settings, load_settings

EXIT_FILE_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3


def exit_code(error: AdaptragError) -> int:
    """The exit status for one of our errors (the CLI's single mapping)."""
    if isinstance(error, CollectionNotFoundError | ConfigError | UpstreamAuthError):
        return EXIT_USAGE  # the user's own setting (a key) is what to fix
    if isinstance(error, StoreError | BackendError):
        return EXIT_RUNTIME
    return EXIT_USAGE


class _Group(TyperGroup):
    """Maps our errors to one stderr line and an exit code, for every subcommand."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AdaptragError as error:
            typer.echo(f"error: {cli_terms(str(error))}", err=True)
            raise typer.Exit(exit_code(error)) from None
        except Exception as error:  # a fault of ours: one line, the traceback kept aside
            if _is_cli_control_flow(error):
                raise
            if (ctx.find_root().obj or {}).get("debug"):
                traceback.print_exc()
                where = "above"
            else:
                where = _save_traceback()
            typer.echo(
                f"error: unexpected {type(error).__name__}: {error}; the traceback is in "
                f"{where} (--debug prints it); please report it",
                err=True,
            )
            raise typer.Exit(EXIT_RUNTIME) from None


# The core names arguments as the Python API and the HTTP body do (`backend=local`); the
# command line says the same with its flags (`--backend local`).
_ARGUMENT = re.compile(r"\b(backend|adapter|domain|collection)=([\w./-]*)")


def cli_terms(message: str) -> str:
    """`message` with the core's argument names (`backend=local`) as CLI flags."""
    return _ARGUMENT.sub(lambda m: f"--{m[1]}" + (f" {m[2]}" if m[2] else ""), message)


def _is_cli_control_flow(error: Exception) -> bool:
    """Exit, Abort and usage errors of the CLI framework (click, or typer's copy of it)."""
    return type(error).__module__.split(".")[0] in ("click", "typer")


def _save_traceback() -> str:
    """Write the current exception's traceback to a file in the temp dir; its path."""
    handle, path = tempfile.mkstemp(prefix="adaptrag-error-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        traceback.print_exc(file=out)
    return path


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="adaptrag: hybrid RAG + per-domain LoRA adapters over your documents, on Qdrant.",
)
collections_app = typer.Typer(
    cls=_Group, no_args_is_help=True, help="List, inspect and drop collections."
)
app.add_typer(collections_app, name="collections")
adapters_app = typer.Typer(
    cls=_Group, no_args_is_help=True, help="Train, list and manage per-domain LoRA adapters."
)
app.add_typer(adapters_app, name="adapters")
eval_app = typer.Typer(
    cls=_Group, no_args_is_help=True, help="Evaluate answer quality, compare runs, gate in CI."
)
app.add_typer(eval_app, name="eval")

JsonOption = typer.Option(False, "--json", help="Print one JSON object on stdout.")


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="YAML settings file (else ADAPTRAG_CONFIG).", dir_okay=False
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    debug: bool = typer.Option(
        False, "--debug", help="Print the traceback of an unexpected error on stderr."
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = {"config": config, "debug": debug}


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    return load_settings((ctx.obj or {}).get("config"), **overrides)


def _emit(data: Any, as_json: bool, human: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(human)


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
    as_json: bool = JsonOption,
) -> None:
    """Ingest documents into a collection (idempotent: unchanged files cost nothing)."""
    from ingest import LoaderOptions, ingest_paths

    settings = _settings(ctx, collection=collection)
    report = ingest_paths(
        paths,
        domain,
        settings=settings,
        sync=sync,
        dry_run=dry_run,
        include=include,
        exclude=exclude,
        loader_options=LoaderOptions(
            text_field=text_field, id_field=id_field, title_field=title_field, id_prefix=id_prefix
        ),
    )
    data = report.to_dict()
    lines = [
        f"{'planned' if dry_run else 'ingested'} into {report.collection}/{report.domain}: "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.deleted} deleted; {report.chunks_embedded} chunks embedded, "
        f"{report.chunks_total} in these documents ({report.seconds:.1f} s)"
    ]
    lines += [f"  {step['action']:<9} {step['doc_id']}" for step in report.plan]
    lines += [
        f"  replaced {step['doc_id']}: was from {step['previous_source']} (gone)"
        for step in report.replaced
    ]
    lines += [f"  skipped {issue.path}: {issue.reason}" for issue in report.skipped]
    lines += [f"  FAILED  {issue.path}: {issue.reason}" for issue in report.failed]
    _emit(data, as_json, "\n".join(lines))
    if not report.ok:
        raise typer.Exit(EXIT_FILE_FAILED)


# --- ask -------------------------------------------------------------------------------


def parse_filters(values: list[str]) -> dict[str, str | list[str]]:
    """`key=value` options as a payload filter; a key given twice matches any of its values."""
    filters: dict[str, str | list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--filter takes key=value (e.g. --filter title=Lease), not {item!r}")
        key = key.strip()
        if key in filters:
            previous = filters[key]
            filters[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            filters[key] = value
    return filters


def _describe_answer(answer: Any, *, with_text: bool = True) -> str:
    lines = [answer.text, ""] if with_text else []
    lines.append("Sources:")
    for n, source in enumerate(answer.sources, start=1):
        meta = source.metadata
        lines.append(
            f"  [{n}] {source.doc_id} ({meta.get('domain', '?')}, score {source.score:.3f}) "
            f"{meta.get('source', '')}"
        )
    if not answer.sources:
        lines.append("  none matched")
    if answer.dropped:
        dropped = ", ".join(s.doc_id for s in answer.dropped)
        lines.append(f"Dropped to fit the prompt budget: {dropped}")
    if answer.invalid_citations:
        lines.append(f"Citations pointing at no source: {answer.invalid_citations}")
    t = answer.timings
    cost = f", ${answer.usage.cost_usd:.5f}" if answer.usage.cost_usd else ""
    lines.append(
        f"{answer.backend} · {answer.model} · {answer.route} · {t['total_ms']:.0f} ms (embed "
        f"{t['embed_ms']:.0f}, search {t['search_ms']:.0f}, generate {t['generate_ms']:.0f})"
        f" · {answer.usage.input_tokens}+{answer.usage.output_tokens} tokens{cost}"
    )
    return "\n".join(lines)


@app.command()
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question."),
    domain: str | None = typer.Option(None, "--domain", "-d", help="Only this domain's chunks."),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help=Settings.field_help("backend")
    ),
    top_k: int | None = typer.Option(None, "--top-k", "-k", help=Settings.field_help("top_k")),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        help="Payload filter key=value (repeatable; a key given twice matches either value).",
    ),
    doc_id: str | None = typer.Option(None, "--doc-id", help="Only this document's chunks."),
    adapter: str | None = typer.Option(
        None,
        "--adapter",
        "-a",
        help="Answer with this adapter (name or name/vN) on the local model; 'base' for none.",
    ),
    mode: str | None = typer.Option(None, "--mode", help=Settings.field_help("search_mode")),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", help=Settings.field_help("max_new_tokens")
    ),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help=Settings.field_help("collection")
    ),
    stream: bool = typer.Option(
        False, "--stream", help="Print the answer as it is generated, then the sources."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Answer a question from the ingested documents, with sources and citations.

    With --json: one Answer object; with --stream --json: one JSON line per text delta
    ({"delta": ...}), then {"answer": ...}.
    """
    from rag.pipeline import Pipeline

    settings = _settings(ctx, collection=collection)
    options: dict[str, Any] = {
        "domain": domain,
        "backend": backend,
        "top_k": top_k,
        "filters": parse_filters(filters),
        "doc_id": doc_id,
        "adapter": adapter,
        "mode": mode,
        "max_new_tokens": max_new_tokens,
    }
    with Pipeline(settings) as qa:
        if not stream:
            answer = qa.ask(question, **options)
            _emit(answer.to_dict(), as_json, _describe_answer(answer))
            return
        for event in qa.stream(question, **options):
            if isinstance(event, str):
                if as_json:
                    typer.echo(json.dumps({"delta": event}))
                else:
                    sys.stdout.write(event)
                    sys.stdout.flush()
            elif as_json:
                typer.echo(json.dumps({"answer": event.to_dict()}, default=str))
            else:
                typer.echo("\n\n" + _describe_answer(event, with_text=False))


# --- adapters --------------------------------------------------------------------------


def _scores_line(scores: dict[str, Any]) -> str:
    adapter, base = scores.get("adapter", {}), scores.get("base", {})
    if not adapter:
        return "not evaluated"
    return (
        f"held-out F1 {adapter.get('f1', 0):.3f} vs base {base.get('f1', 0):.3f}, "
        f"EM {adapter.get('em', 0):.3f} vs {base.get('em', 0):.3f} (n={adapter.get('n', 0)})"
    )


@adapters_app.command("train")
def adapters_train(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="Domain the adapter serves."),
    data: Path = typer.Option(..., "--data", help="QA rows (JSONL: question, answers...)."),
    name: str | None = typer.Option(None, "--name", help="Adapter name (default: the domain)."),
    base_model: str | None = typer.Option(
        None, "--base-model", help="Base model (default: ADAPTRAG_GENERATOR_MODEL)."
    ),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the training rows."),
    max_steps: int | None = typer.Option(
        None, "--max-steps", help="Stop after this many steps (overrides --epochs)."
    ),
    lr: float = typer.Option(3e-4, "--lr", help="Learning rate."),
    r: int = typer.Option(8, "--r", help="LoRA rank."),
    alpha: int = typer.Option(16, "--alpha", help="LoRA alpha (scale = alpha / r)."),
    dropout: float = typer.Option(0.05, "--dropout", help="LoRA dropout."),
    targets: str = typer.Option(
        "q_proj,v_proj", "--targets", help="Comma-separated modules LoRA adapts."
    ),
    eval_split: float = typer.Option(0.1, "--eval-split", help="Share of rows held out."),
    distractors: int = typer.Option(3, "--distractors", help="Retrieved distractor chunks."),
    oracle_p: float = typer.Option(
        0.8, "--oracle-p", help="Chance the answering chunk is in the prompt."
    ),
    batch_size: int = typer.Option(4, "--batch-size", help="Examples per step."),
    eval_every: int = typer.Option(20, "--eval-every", help="Steps between validation checks."),
    patience: int = typer.Option(
        3, "--patience", help="Checks without improvement before stopping."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, examples and LoRA init."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run."),
    force: bool = typer.Option(
        False, "--force", help="Activate the adapter even if it does not beat the base model."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Train a LoRA adapter for a domain on retrieval-aware examples; promote it if it wins."""
    from adapters import TrainOptions, train_adapter

    options = TrainOptions(
        domain=domain,
        data=data,
        name=name,
        base_model=base_model,
        epochs=epochs,
        max_steps=max_steps,
        lr=lr,
        r=r,
        alpha=alpha,
        dropout=dropout,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
        eval_split=eval_split,
        distractors=distractors,
        oracle_p=oracle_p,
        batch_size=batch_size,
        eval_every=eval_every,
        patience=patience,
        seed=seed,
        resume=resume,
        force=force,
    )
    result = train_adapter(options, settings=_settings(ctx))
    info = result.adapter
    verdict = "active" if result.promoted else "registered, not active (did not beat the base)"
    human = (
        f"{info.ref} for {info.domain}: {result.steps} steps, {result.examples} examples "
        f"({result.skipped_rows} rows skipped), {result.seconds:.0f} s\n"
        f"{_scores_line(info.scores)}\n{verdict}"
    )
    _emit(result.to_dict(), as_json, human)


@adapters_app.command("list")
def adapters_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List adapters: domain, base model, active, held-out scores, stale."""
    from adapters import describe_adapters

    rows = describe_adapters(_settings(ctx))
    human = (
        "\n".join(
            f"{r['ref']}\t{r['domain']}\t{'active' if r['active'] else '-'}\t"
            f"{'STALE' if r['stale'] else ''}\t{_scores_line(r['scores'])}"
            for r in rows
        )
        or "no adapters yet; train one with `adaptrag adapters train`"
    )
    _emit(rows, as_json, human)


@adapters_app.command("show")
def adapters_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name or name/vN"),
    as_json: bool = JsonOption,
) -> None:
    """Show an adapter's metadata."""
    from adapters import AdapterRegistry, describe_adapters

    settings = _settings(ctx)
    wanted = AdapterRegistry(settings.data_dir).get(ref).ref
    (row,) = [r for r in describe_adapters(settings) if r["ref"] == wanted]
    _emit(row, as_json, json.dumps(row, indent=2, default=str))


@adapters_app.command("activate")
def adapters_activate(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name or name/vN"),
    as_json: bool = JsonOption,
) -> None:
    """Make an adapter version its domain's active adapter."""
    from adapters import AdapterRegistry

    info = AdapterRegistry(_settings(ctx).data_dir).activate(ref)
    _emit(
        {"active": info.ref, "domain": info.domain},
        as_json,
        f"{info.ref} is active for {info.domain}",
    )


@adapters_app.command("delete")
def adapters_delete(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name/vN (a bare name: its newest version)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete an adapter version."""
    from adapters import AdapterRegistry

    registry = AdapterRegistry(_settings(ctx).data_dir)
    target = registry.get(ref).ref
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise ConfigError(f"refusing to delete {target} without confirmation; pass --yes")
        typer.confirm(f"Delete adapter {target}?", abort=True)
    registry.delete(target)
    _emit({"deleted": target}, as_json, f"deleted {target}")


@adapters_app.command("add")
def adapters_add(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A PEFT LoRA adapter folder (save_pretrained output)."),
    domain: str = typer.Option(..., "--domain", "-d", help="Domain the adapter serves."),
    name: str | None = typer.Option(None, "--name", help="Adapter name (default: the domain)."),
    base_model: str | None = typer.Option(
        None, "--base-model", help="Its base model (default: ADAPTRAG_GENERATOR_MODEL)."
    ),
    activate: bool = typer.Option(False, "--activate", help="Make it the domain's active one."),
    as_json: bool = JsonOption,
) -> None:
    """Register an existing PEFT adapter (checked against its base model)."""
    from adapters import AdapterRegistry, add_adapter

    settings = _settings(ctx)
    info = add_adapter(path, domain, settings=settings, name=name, base_model=base_model)
    if activate:
        AdapterRegistry(settings.data_dir).activate(info.ref)
    _emit(info.to_dict(), as_json, f"registered {info.ref} for {domain}")


@adapters_app.command("synth")
def adapters_synth(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="Domain whose chunks to use."),
    n: int = typer.Option(..., "--n", help="Pairs to write (one per sampled chunk)."),
    out: Path = typer.Option(..., "--out", help="QA JSONL file to write."),
    backend: str = typer.Option(
        "auto", "--backend", "-b", help="claude, local, or auto (Claude when a key is set)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the chunk sample."),
    as_json: bool = JsonOption,
) -> None:
    """Write question/answer pairs from a domain's chunks, for teams without labelled data."""
    from adapters.synth import synth_rows, write_rows
    from rag.generators import make_generator
    from rag.router import choose_backend

    settings = _settings(ctx)
    route = choose_backend(backend, prefer_claude=True)
    generator = make_generator(route.backend, settings)
    store = _store(settings, settings.collection)
    try:
        rows, rejected = synth_rows(store, generator, domain, n, seed=seed)
    finally:
        store.close()
        generator.close()
    write_rows(rows, out)
    data = {"written": len(rows), "rejected": rejected, "out": str(out), "backend": route.backend}
    _emit(
        data,
        as_json,
        f"wrote {len(rows)} pairs to {out} ({rejected} rejected) with {route.backend}",
    )


# --- eval ------------------------------------------------------------------------------

FailUnderOption = typer.Option(
    [], "--fail-under", help="METRIC=VALUE: exit 1 when the metric's mean is below (repeatable)."
)


def _gate(values: dict[str, float], gates: list[str]) -> None:
    from eval.compare import check_gates

    failures = check_gates(values, gates)
    for failure in failures:
        typer.echo(f"gate failed: {failure}", err=True)
    if failures:
        raise typer.Exit(EXIT_FILE_FAILED)


@eval_app.command("run")
def eval_run(
    ctx: typer.Context,
    dataset: Path = typer.Option(..., "--dataset", help="QA rows (JSONL) to answer."),
    out: Path = typer.Option(..., "--out", help="Run folder (results.jsonl, report.*)."),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help=Settings.field_help("backend")
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", "-a", help="Adapter to evaluate (name or name/vN; 'base' for none)."
    ),
    domain: str | None = typer.Option(None, "--domain", "-d", help="Only this domain's chunks."),
    top_k: int | None = typer.Option(None, "--top-k", "-k", help=Settings.field_help("top_k")),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N rows."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", help=Settings.field_help("claude_concurrency")
    ),
    judge: bool = typer.Option(
        False, "--judge", help="Also grade correctness and faithfulness with Claude (needs a key)."
    ),
    fail_under: list[str] = FailUnderOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer every row through the real pipeline, score it, and write a report (resumable)."""
    from eval.report import metric_rows
    from eval.runner import run_eval

    settings = _settings(ctx, claude_concurrency=concurrency)
    report = run_eval(
        dataset,
        out,
        settings=settings,
        backend=backend,
        adapter=adapter,
        domain=domain,
        top_k=top_k,
        limit=limit,
        judge=judge,
    )
    summary = report["summary"]
    lines = [f"{summary['rows']} rows, {summary['errors']} errors; report: {out / 'report.html'}"]
    lines += [
        f"  {name:<20} {mean:.3f}  [{low:.3f}, {high:.3f}]  n={n}"
        for name, mean, low, high, n in metric_rows(summary)
    ]
    _emit(report, as_json, "\n".join(lines))
    _gate({name: summary[name]["mean"] for name, *_ in metric_rows(summary)}, fail_under)


@eval_app.command("compare")
def eval_compare(
    dirs: list[Path] = typer.Argument(..., help="Run folders; differences are against the first."),
    out: Path | None = typer.Option(None, "--out", help="Write compare.json and compare.md here."),
    fail_under: list[str] = FailUnderOption,
    as_json: bool = JsonOption,
) -> None:
    """Side-by-side metrics with paired bootstrap CIs; --fail-under gates the last run."""
    from eval.compare import compare_markdown, compare_runs

    comparison = compare_runs(dirs, out)
    _emit(comparison, as_json, compare_markdown(comparison))
    last = comparison["runs"][-1]
    _gate({m: e["mean"][last] for m, e in comparison["metrics"].items()}, fail_under)


# --- serve -----------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback bind with no API keys configured."
    ),
) -> None:
    """Run the HTTP API (ask, stream, retrieve, ingest, collections, adapters, metrics)."""
    from adaptrag.server import serve as run_server

    run_server(_settings(ctx), host=host, port=port, insecure=insecure)


# --- collections -----------------------------------------------------------------------


def _store(settings: Settings, name: str) -> Any:
    from rag.stores import store_for

    return store_for(settings, name)


def _describe(settings: Settings, name: str, *, detail: bool) -> dict[str, Any]:
    from rag.collection_info import describe_collection

    store = _store(settings, name)
    try:
        return describe_collection(store, name, detail=detail)
    finally:
        store.close()


@collections_app.command("list")
def collections_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the collections with their embedding model and size."""
    from rag.stores import collection_names, connection

    settings = _settings(ctx)
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
            for r in rows
        )
        or f"no collections yet (data dir {settings.data_dir}); run `adaptrag ingest`"
    )
    _emit(rows, as_json, human)


@collections_app.command("info")
def collections_info(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Collection name."),
    as_json: bool = JsonOption,
) -> None:
    """Show how a collection was built and what it holds per domain."""
    info = _describe(_settings(ctx), name, detail=True)
    lines = [
        f"{info['name']}: {info['chunks']} chunks, {info['embedding_model']} "
        f"({info['dimension']}-d), fingerprint {info['fingerprint']}"
    ]
    lines += [
        f"  {domain}: {counts['documents']} documents, {counts['chunks']} chunks"
        for domain, counts in info["domains"].items()
    ]
    _emit(info, as_json, "\n".join(lines))


@collections_app.command("drop")
def collections_drop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Collection name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a collection and everything in it."""
    settings = _settings(ctx)
    _describe(settings, name, detail=False)  # a clear error if it does not exist
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise ConfigError(f"refusing to drop {name!r} without confirmation; pass --yes")
        typer.confirm(f"Drop collection {name!r} and all its chunks?", abort=True)
    store = _store(settings, name)
    store.drop()
    _emit({"dropped": name}, as_json, f"dropped {name}")


# --- config ----------------------------------------------------------------------------


@app.command("config")
def show_config(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show the effective settings and what each one does (secrets masked)."""
    settings = _settings(ctx)
    rows = {
        name: {
            "value": "***"
            if "key" in name and getattr(settings, name)
            else getattr(settings, name),
            "env": f"ADAPTRAG_{name.upper()}",
            "help": Settings.field_help(name),
        }
        for name in Settings.model_fields
    }
    human = "\n".join(f"{row['env']}={row['value']}\n    {row['help']}" for row in rows.values())
    _emit(rows, as_json, human)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
