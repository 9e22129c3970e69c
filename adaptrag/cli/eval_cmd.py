"""`adaptrag eval ...`: evaluate answer quality, compare runs, gate in CI."""

from __future__ import annotations

from pathlib import Path

import typer

from adaptrag.cli.base import (
    EXIT_FILE_FAILED,
    JsonOption,
    cli_settings,
    emit,
    eval_app,
)
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings

# --- eval ------------------------------------------------------------------------------

FailUnderOption = typer.Option(
    [], "--fail-under", help="METRIC=VALUE: exit 1 when the metric's mean is below (repeatable)."
)


def _gate(values: dict[str, float], gates: list[str]) -> None:
    from adaptrag.eval.compare import check_gates

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
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", min=1, help=Settings.field_help("max_new_tokens")
    ),
    scope: str | None = typer.Option(
        None,
        "--scope",
        help="doc_id: search each row within its own document; domain: within its domain.",
    ),
    retrieval_only: bool = typer.Option(
        False, "--retrieval-only", help="Score retrieval alone (hit@k, MRR, nDCG); no answers."
    ),
    fail_under: list[str] = FailUnderOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer every row through the real pipeline, score it, and write a report (resumable).

    Progress: a bar on a terminal, else a line on stderr every 10 s.
    """
    from adaptrag.eval.judge import coverage_line
    from adaptrag.eval.report import metric_rows
    from adaptrag.eval.runner import run_eval

    settings = cli_settings(ctx, claude_concurrency=concurrency, max_new_tokens=max_new_tokens)
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
        scope=scope,
        retrieval_only=retrieval_only,
        max_new_tokens=max_new_tokens,
    )
    summary = report["summary"]
    lines = [f"{summary['rows']} rows, {summary['errors']} errors; report: {out / 'report.html'}"]
    lines += [
        f"  {name:<20} {mean:.3f}  [{low:.3f}, {high:.3f}]  n={n}"
        for name, mean, low, high, n in metric_rows(summary)
    ]
    if summary.get("judge_coverage"):
        lines.append(f"  {coverage_line(summary)}")
    emit(report, as_json, "\n".join(lines))
    _gate({name: summary[name]["mean"] for name, *_ in metric_rows(summary)}, fail_under)


@eval_app.command("compare")
def eval_compare(
    dirs: list[Path] = typer.Argument(..., help="Run folders; differences are against the first."),
    out: Path | None = typer.Option(None, "--out", help="Write compare.json and compare.md here."),
    fail_under: list[str] = FailUnderOption,
    as_json: bool = JsonOption,
) -> None:
    """Side-by-side metrics with paired bootstrap CIs; --fail-under gates the last run."""
    from adaptrag.eval.compare import compare_markdown, compare_runs

    comparison = compare_runs(dirs, out)
    for warning in comparison["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    emit(comparison, as_json, compare_markdown(comparison))
    last = comparison["runs"][-1]
    _gate({m: e["mean"][last] for m, e in comparison["metrics"].items()}, fail_under)


@eval_app.command("export")
def eval_export(
    run_dir: Path = typer.Argument(..., help="A run folder written by `eval run`."),
    to: str = typer.Option("ragas", "--format", help="Export format: ragas."),
    out: Path | None = typer.Option(None, "--out", help="Output file (RUN_DIR/ragas.jsonl)."),
) -> None:
    """Export a run's answered rows for RAGAS (`EvaluationDataset.from_jsonl`)."""
    from adaptrag.eval.export import export_ragas

    if to != "ragas":
        raise ConfigError(f"unknown export format {to!r}; use ragas")
    done = export_ragas(run_dir, out)
    left = []
    if done.skipped_errors:
        left.append(f"{done.skipped_errors} failed")
    if done.skipped_unanswered:
        left.append(f"{done.skipped_unanswered} without an answer (retrieval only)")
    tail = f"; left out: {', '.join(left)}" if left else ""
    typer.echo(f"wrote {done.rows} RAGAS samples to {done.path}{tail}")
