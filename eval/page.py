"""The HTML report of a run: what was measured, what each metric means, and every row.

One self-contained page (`report.html`, beside its PNG plots): the run's versions; the
metrics with their 95% intervals, which way is better and their definitions; latency,
tokens and cost; F1 by domain; then a table of every row with its question, answer, gold
answers, scores and the sources the model was given (text folded under each).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from adaptrag.eval.definitions import DEFINITIONS, LOWER_IS_BETTER
from adaptrag.eval.judge import coverage_line

ROW_METRICS = ("f1", "exact_match", "value_correct", "values_supported", "grounded", "hit_at_k")
_CODE = re.compile(r"`([^`]+)`")
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.lower, th.lower { color: #8a4b00; }
.rows td { max-width: 360px; }
.err { color: #b00020; }
details summary { cursor: pointer; color: #245; }
details p { margin: 4px 0; white-space: pre-wrap; font-size: 12px; }
code { background: #f4f4f4; padding: 0 3px; }
.note { color: #555; }
"""


def _text(value: Any) -> str:
    return html.escape(str(value))


def definition_html(text: str) -> str:
    """A Markdown definition as HTML: escaped, with `names` as <code>."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def metrics_table(summary: dict[str, Any]) -> str:
    """Metric, mean, interval, rows, which way is better, definition."""
    lines = [
        "<table><tr><th>metric</th><th>mean</th><th>95% CI</th><th>n</th><th>better</th>"
        "<th>definition</th></tr>"
    ]
    for name, definition in DEFINITIONS.items():
        if not (stats := summary.get(name)):
            continue
        low, high = stats["ci95"]
        lower = name in LOWER_IS_BETTER
        css = ' class="lower"' if lower else ""
        lines.append(
            f"<tr><td{css}><code>{name}</code></td><td class='num'>{stats['mean']:.3f}</td>"
            f"<td class='num'>[{low:.3f}, {high:.3f}]</td><td class='num'>{stats['n']}</td>"
            f"<td{css}>{'lower' if lower else 'higher'}</td>"
            f"<td>{definition_html(definition)}</td></tr>"
        )
    return "\n".join(lines) + "</table>"


def latency_table(summary: dict[str, Any]) -> str:
    """p50 and p95 per stage."""
    rows = "".join(
        f"<tr><td><code>{stage}</code></td><td class='num'>{v['p50']:.0f}</td>"
        f"<td class='num'>{v['p95']:.0f}</td></tr>"
        for stage, v in summary["latency_ms"].items()
    )
    return f"<table><tr><th>stage</th><th>p50 ms</th><th>p95 ms</th></tr>{rows}</table>"


def _sources(result: dict[str, Any]) -> str:
    items = []
    for n, source in enumerate(result.get("sources") or [], start=1):
        head = _text(f"[{n}] {source['doc_id']} · {source['score']:.3f}")
        chunk = f" title='chunk {_text(source['chunk_id'])}'"
        text = source.get("text")
        if text is None:  # runs from before results kept the source text
            items.append(f"<div{chunk}>{head}</div>")
        else:
            items.append(f"<details><summary{chunk}>{head}</summary><p>{_text(text)}</p></details>")
    return "".join(items)


def rows_table(results: Sequence[dict[str, Any]]) -> str:
    """Every row: question, answer (or error), gold answers, scores, sources."""
    shown = [
        m for m in ROW_METRICS if any((r.get("metrics") or {}).get(m) is not None for r in results)
    ]
    head = "".join(f"<th>{m}</th>" for m in shown)
    lines = [
        f"<table class='rows'><tr><th>#</th><th>id</th><th>domain</th><th>question</th>"
        f"<th>answer</th><th>gold</th>{head}<th>sources given to the model</th></tr>"
    ]
    for n, result in enumerate(results, start=1):
        metrics = result.get("metrics") or {}
        if result.get("error"):
            answer = f"<span class='err'>error: {_text(result['error'])}</span>"
        else:
            answer = _text(result.get("answer", "(retrieval only)"))
        gold = "<br>".join(_text(a) for a in result.get("answers") or [])
        scores = "".join(f"<td class='num'>{_number(metrics.get(m))}</td>" for m in shown)
        lines.append(
            f"<tr><td class='num'>{n}</td><td>{_text(result.get('id', ''))}</td>"
            f"<td>{_text(result.get('domain') or '')}</td><td>{_text(result['question'])}</td>"
            f"<td>{answer}</td><td>{gold}</td>{scores}<td>{_sources(result)}</td></tr>"
        )
    return "\n".join(lines) + "</table>"


def as_html(report: dict[str, Any], results: Sequence[dict[str, Any]], plots: Sequence[str]) -> str:
    """The whole page."""
    summary, versions = report["summary"], report["versions"]
    images = {name: f'<p><img src="{name}" alt="{name}"></p>' for name in plots}
    judge = versions.get("judge")
    cost = f"estimated cost ${summary['cost_usd']:.4f}"
    if judge:
        cost += (
            f"; judge ${summary.get('judge_cost_usd', 0.0):.4f} ({_text(judge['model'])}, "
            f"prompt {_text(judge['prompt_version'])})"
        )
    domains = ", ".join(f"{_text(d)} {v:.3f}" for d, v in summary["f1_by_domain"].items())
    lower = ", ".join(f"<code>{m}</code>" for m in sorted(LOWER_IS_BETTER))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>adaptrag evaluation of {_text(report['config']['dataset'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Evaluation of {_text(report['config']['dataset'])}</h1>",
        f"<p>{summary['rows']} rows, {summary['errors']} errors · backends "
        f"{_text(versions['backends'])} · adapters {_text(versions['adapters'])} · collection "
        f"{_text(versions['collection'])} ({_text(versions['collection_fingerprint'])}) · "
        f"embedding {_text(versions['embedding_model'])} · dataset sha256 "
        f"{_text(versions['dataset_sha256'][:12])} · prompt {_text(versions['prompt_version'])} · "
        f"adaptrag {_text(versions['adaptrag'])} · {_text(report['created_at'])}</p>",
        "<h2>Metrics</h2>",
        "<p class='note'>Mean over the rows that have the metric, with a 95% bootstrap interval "
        "(1,000 resamples of the rows).</p>",
        metrics_table(summary),
        images.get("metrics.png", ""),
        f"<p class='note'>The chart holds the metrics where higher is better; {lower} "
        "(lower is better) are in the table only.</p>"
        if "metrics.png" in images
        else "",
        "<h2>Time and cost</h2>",
        latency_table(summary) if summary["latency_ms"] else "<p>no answered rows</p>",
        images.get("latency.png", ""),
        f"<p>Tokens: {summary['tokens']['input']} in, {summary['tokens']['output']} out; "
        f"{cost}.</p>",
        f"<p>{_text(coverage_line(summary))}</p>" if summary.get("judge_coverage") else "",
    ]
    if domains:
        parts += ["<h2>F1 by domain</h2>", f"<p>{domains}</p>", images.get("domains.png", "")]
    parts += ["<h2>Rows</h2>", rows_table(results), "</body></html>\n"]
    return "\n".join(parts)
