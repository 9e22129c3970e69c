"""Reports of a run: summary metrics with bootstrap confidence intervals, versions, plots.

`DIR/report.json` (machine-readable), `DIR/report.md`, and `DIR/report.html` (`eval.page`:
definitions, every row, and PNG plots: the higher-is-better metrics with their intervals,
the latency distribution, per-domain F1).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptrag.eval.config import EvalConfig
from adaptrag.eval.definitions import LOWER_IS_BETTER, METRICS
from adaptrag.eval.judge import JUDGE_PROMPT_VERSION, coverage_line, judge_coverage
from adaptrag.eval.page import as_html
from adaptrag.eval.stats import bootstrap_ci
from adaptrag.rag.prompts import PROMPT_VERSION

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from adaptrag.eval.judge import Judge
    from adaptrag.rag.answering.pipeline import Pipeline

STAGES = (
    "embed_ms",
    "search_ms",
    "rerank_ms",
    "generate_ms",
    "service_ms",
    "total_ms",
    "load_ms",
)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and CI of each metric over the rows that have it, latency, tokens, cost, errors."""
    answered = [r for r in results if not r.get("error")]
    summary: dict[str, Any] = {"rows": len(results), "errors": len(results) - len(answered)}
    for name in METRICS:
        values = [r["metrics"][name] for r in answered if r["metrics"].get(name) is not None]
        if values:
            low, high = bootstrap_ci(values)
            summary[name] = {
                "mean": sum(values) / len(values),
                "ci95": [low, high],
                "n": len(values),
            }
    timings = [_with_service(r["timings"]) for r in answered]
    summary["latency_ms"] = {
        stage: {
            "p50": percentile([t[stage] for t in timings], 50),
            "p95": percentile([t[stage] for t in timings], 95),
        }
        for stage in STAGES
        if timings
    }
    summary["tokens"] = {
        "input": sum(r["usage"]["input_tokens"] for r in answered),
        "output": sum(r["usage"]["output_tokens"] for r in answered),
    }
    summary["cost_usd"] = round(sum(r["usage"]["cost_usd"] for r in answered), 6)
    judged = [r for r in answered if r.get("judge")]
    if judged:
        summary["judge_cost_usd"] = round(sum(r["judge"]["usage"]["cost_usd"] for r in judged), 6)
        summary["judge_coverage"] = judge_coverage(judged)
    by_domain: dict[str, list[float]] = defaultdict(list)
    for r in answered:
        if r["metrics"].get("f1") is not None:  # not in retrieval-only runs
            by_domain[str(r.get("domain"))].append(r["metrics"]["f1"])
    summary["f1_by_domain"] = {d: sum(v) / len(v) for d, v in sorted(by_domain.items())}
    return summary


def _with_service(timings: dict[str, float]) -> dict[str, float]:
    """The row's timings plus `service_ms`: its own embed + search + generation share.
    `total_ms` is the wall time of the row's whole batch (what a batch caller waits), less
    `load_ms`, the model loading the batch triggered or waited for."""
    # Runs from before the reranker or the load clock have neither.
    timings = {"rerank_ms": 0.0, "load_ms": 0.0, **timings}
    service = (
        timings["embed_ms"] + timings["search_ms"] + timings["rerank_ms"] + timings["generate_ms"]
    )
    return {**timings, "service_ms": service}


def versions(
    config: EvalConfig, results: Sequence[dict[str, Any]], qa: Pipeline, judge: Judge | None
) -> dict[str, Any]:
    """What the numbers are tied to: data, collection, models, adapters, prompts, code."""
    spec = qa.retriever.check()
    answered = [r for r in results if not r.get("error")]
    return {
        "dataset": config.dataset,
        "dataset_sha256": config.dataset_sha256,
        "collection": qa.collection,
        "collection_fingerprint": spec.fingerprint(),
        "embedding_model": spec.embedding_model,
        "models": dict(Counter(r["model"] for r in answered if "model" in r)),
        "adapters": dict(Counter(str(r["adapter"]) for r in answered if "model" in r)),
        "backends": dict(Counter(r["backend"] for r in answered if "model" in r)),
        "prompt_version": PROMPT_VERSION,
        "judge": None
        if judge is None
        else {"model": judge.model, "prompt_version": JUDGE_PROMPT_VERSION},
        "adaptrag": version("adaptrag"),
    }


def write_report(
    out: Path,
    config: EvalConfig,
    results: Sequence[dict[str, Any]],
    qa: Pipeline,
    judge: Judge | None = None,
) -> dict[str, Any]:
    """Write report.json, report.md and report.html (with plots) into `out`; return the report."""
    report: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(),
        "config": asdict(config),
        "versions": versions(config, results, qa, judge),
        "summary": summarize(results),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown(report))
    plots = write_plots(out, report["summary"], results)
    (out / "report.html").write_text(as_html(report, results, plots))
    return report


def metric_rows(summary: dict[str, Any]) -> list[tuple[str, float, float, float, int]]:
    """(metric, mean, low, high, n) for each metric present."""
    return [
        (name, s["mean"], s["ci95"][0], s["ci95"][1], s["n"])
        for name in METRICS
        if (s := summary.get(name))
    ]


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    summary, versions_ = report["summary"], report["versions"]
    lines = [
        f"# Evaluation of {report['config']['dataset']}",
        "",
        f"{summary['rows']} rows, {summary['errors']} errors; backends {versions_['backends']}, "
        f"adapters {versions_['adapters']}, collection {versions_['collection']} "
        f"({versions_['collection_fingerprint']}), dataset sha256 "
        f"{versions_['dataset_sha256'][:12]}, prompt {versions_['prompt_version']}.",
        "",
        "| metric | mean | 95% CI | n | better |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {mean:.3f} | [{low:.3f}, {high:.3f}] | {n} | "
        f"{'lower' if name in LOWER_IS_BETTER else 'higher'} |"
        for name, mean, low, high, n in metric_rows(summary)
    ]
    lines += ["", "| stage | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [
        f"| {stage} | {v['p50']:.0f} | {v['p95']:.0f} |"
        for stage, v in summary["latency_ms"].items()
    ]
    lines += [
        "",
        f"Tokens: {summary['tokens']['input']} in, {summary['tokens']['output']} out; "
        f"estimated cost ${summary['cost_usd']:.4f}"
        + (
            f" (judge: ${summary.get('judge_cost_usd', 0.0):.4f}, {versions_['judge']['model']}, "
            f"prompt {versions_['judge']['prompt_version']})."
            if versions_.get("judge")
            else "."
        ),
        *(["", coverage_line(summary), ""] if summary.get("judge_coverage") else [""]),
        "F1 by domain: " + ", ".join(f"{d} {v:.3f}" for d, v in summary["f1_by_domain"].items()),
    ]
    return "\n".join(lines) + "\n"


def write_plots(out: Path, summary: dict[str, Any], results: Sequence[dict[str, Any]]) -> list[str]:
    """PNG plots beside the report; their file names (none without `adaptrag[eval]`)."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        logger.warning("no plots: they need matplotlib; pip install 'adaptrag[eval]'")
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    # Shares where higher is better only: refusal and gold_dropped would read as gains.
    rows = [r for r in metric_rows(summary) if r[0] not in LOWER_IS_BETTER]
    if rows:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        labels = [r[0] for r in rows]
        means = [r[1] for r in rows]
        errors = [[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]]
        ax.bar(labels, means, yerr=errors, capsize=3, color="#4c72b0")
        ax.set_ylim(0, 1)
        ax.set_title("metrics, higher is better (mean, 95% bootstrap CI)")
        ax.tick_params(axis="x", rotation=45)
        fig.tight_layout()
        fig.savefig(out / "metrics.png", dpi=100)
        plt.close(fig)
        names.append("metrics.png")
    totals = [_with_service(r["timings"])["service_ms"] for r in results if not r.get("error")]
    if totals:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(totals, bins=min(30, max(5, len(totals) // 3)), color="#55a868")
        ax.set_xlabel("embed + search + generation share (ms)")
        ax.set_title("time per question")
        fig.tight_layout()
        fig.savefig(out / "latency.png", dpi=100)
        plt.close(fig)
        names.append("latency.png")
    if summary["f1_by_domain"]:
        fig, ax = plt.subplots(figsize=(6, 3))
        domains = list(summary["f1_by_domain"])
        ax.bar(domains, [summary["f1_by_domain"][d] for d in domains], color="#c44e52")
        ax.set_ylim(0, 1)
        ax.set_title("F1 by domain")
        fig.tight_layout()
        fig.savefig(out / "domains.png", dpi=100)
        plt.close(fig)
        names.append("domains.png")
    return names
