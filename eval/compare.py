"""Comparing runs: a side-by-side table, paired bootstrap intervals on the differences
against the first run, and the rows where the systems disagree most."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adaptrag.eval.definitions import METRICS
from adaptrag.eval.runner import RUN_FILE, read_results
from adaptrag.eval.stats import paired_bootstrap_ci
from adaptrag.rag.errors import ConfigError

# What changes a metric besides the system under test; a comparison warns when they differ.
WATCHED_SETTINGS = (
    "dataset_sha256",
    "limit",
    "backend",
    "top_k",
    "max_new_tokens",
    "domain",
    "scope",
    "retrieval_only",
)


def setting_warnings(dirs: Sequence[Path]) -> list[str]:
    """One line per recorded setting that differs between the runs (from each run.json)."""
    configs = {}
    for folder in dirs:
        path = folder / RUN_FILE
        configs[str(folder)] = json.loads(path.read_text()) if path.is_file() else {}
    warnings = [
        f"{name} has no {RUN_FILE}: its settings are unknown"
        for name, c in configs.items()
        if not c
    ]
    for key in WATCHED_SETTINGS:
        values = {name: config.get(key) for name, config in configs.items() if config}
        if len({json.dumps(v) for v in values.values()}) > 1:
            shown = ", ".join(f"{name}: {value}" for name, value in values.items())
            warnings.append(f"the runs differ in {key} ({shown}); not only the system changed")
    return warnings


def compare_runs(dirs: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Any]:
    """Compare runs on the rows they all answered; write compare.json/.md into `out`."""
    if len(dirs) < 2:
        raise ConfigError("compare needs at least two run folders")
    runs = {}
    for folder in map(Path, dirs):
        results = [r for r in read_results(folder) if not r.get("error")]
        if not results:
            raise ConfigError(f"{folder} holds no answered rows; run `adaptrag eval run` first")
        runs[str(folder)] = {r["id"]: r for r in results}
    names = list(runs)
    shared = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not shared:
        raise ConfigError("the runs share no rows (were they made on the same dataset?)")
    table: dict[str, Any] = {}
    for metric in METRICS:
        ids = [
            i for i in shared if all(runs[n][i]["metrics"].get(metric) is not None for n in names)
        ]
        if not ids:
            continue
        columns = {n: [runs[n][i]["metrics"][metric] for i in ids] for n in names}
        entry: dict[str, Any] = {
            "n": len(ids),
            "mean": {n: sum(v) / len(v) for n, v in columns.items()},
        }
        entry["difference_vs_first"] = {
            n: {
                "mean": entry["mean"][n] - entry["mean"][names[0]],
                "ci95": list(paired_bootstrap_ci(columns[names[0]], columns[n])),
            }
            for n in names[1:]
        }
        table[metric] = entry
    answered = [i for i in shared if all("f1" in runs[n][i]["metrics"] for n in names)]
    spread = sorted(
        answered,  # retrieval-only runs have no answers to disagree on
        key=lambda i: (
            -(
                max(runs[n][i]["metrics"]["f1"] for n in names)
                - min(runs[n][i]["metrics"]["f1"] for n in names)
            )
        ),
    )
    disagreements = [
        {
            "id": i,
            "question": runs[names[0]][i]["question"],
            "gold": runs[names[0]][i]["answers"],
            "answers": {n: runs[n][i]["answer"] for n in names},
            "f1": {n: runs[n][i]["metrics"]["f1"] for n in names},
        }
        for i in spread[:10]
    ]
    comparison = {
        "runs": names,
        "warnings": setting_warnings([Path(d) for d in dirs]),
        "rows": len(shared),
        "metrics": table,
        "disagreements": disagreements,
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(comparison, indent=2))
        (out / "compare.md").write_text(compare_markdown(comparison))
    return comparison


def compare_markdown(comparison: dict[str, Any]) -> str:
    """The comparison as a Markdown table (means; differences vs the first run with CIs)."""
    names = comparison["runs"]
    lines = [
        f"# Comparison on {comparison['rows']} shared rows",
        "",
        *[f"> warning: {w}" for w in comparison.get("warnings", [])],
        *([""] if comparison.get("warnings") else []),
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for metric, entry in comparison["metrics"].items():
        cells = [f"{entry['mean'][names[0]]:.3f}"]
        for name in names[1:]:
            d = entry["difference_vs_first"][name]
            cells.append(
                f"{entry['mean'][name]:.3f} ({d['mean']:+.3f}, CI [{d['ci95'][0]:+.3f}, "
                f"{d['ci95'][1]:+.3f}])"
            )
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines += ["", "## Rows where the systems disagree most (F1)", ""]
    for row in comparison["disagreements"]:
        lines.append(f"- {row['question']} (gold: {row['gold'][0]})")
        lines += [f"  - {n}: {row['answers'][n]} (F1 {row['f1'][n]:.2f})" for n in names]
    return "\n".join(lines) + "\n"


def check_gates(values: dict[str, float], gates: Sequence[str]) -> list[str]:
    """The `METRIC=VALUE` gates that `values` fail, as messages (an unknown metric is an error)."""
    failures = []
    for gate in gates:
        metric, sep, threshold = gate.partition("=")
        try:
            limit = float(threshold)
        except ValueError:
            limit = None
        if not sep or limit is None:
            raise ConfigError(f"--fail-under takes METRIC=VALUE (e.g. f1=0.5), not {gate!r}")
        if metric not in values:
            raise ConfigError(
                f"unknown metric {metric!r} in --fail-under; use one of {sorted(values)}"
            )
        if values[metric] < limit:
            failures.append(f"{metric} {values[metric]:.4f} < {limit}")
    return failures
