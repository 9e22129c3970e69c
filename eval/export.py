"""A run exported for other evaluators: RAGAS's single-turn dataset format.

`to_ragas(results)` gives one `SingleTurnSample`-shaped dict per answered row
(`user_input`, `retrieved_contexts`, `retrieved_context_ids`, `response`, `reference`),
which `ragas.EvaluationDataset.from_list` / `from_jsonl` read as they are, so a run can be
scored with RAGAS's metrics beside ours. Rows that failed, and retrieval-only rows (no
response), are left out and counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptrag.eval.runner import read_results
from adaptrag.rag.errors import ConfigError


@dataclass(frozen=True)
class Export:
    """What an export wrote and what it left out."""

    path: Path
    rows: int
    skipped_errors: int
    skipped_unanswered: int


def ragas_sample(result: dict[str, Any]) -> dict[str, Any]:
    """One answered result line as a RAGAS single-turn sample."""
    sources = result["sources"]
    if any("text" not in s for s in sources):
        raise ConfigError(
            "this run's results keep no source text (written before adaptrag stored it); "
            "re-run `adaptrag eval run` to export it"
        )
    answers = result.get("answers") or []
    return {
        "user_input": result["question"],
        "retrieved_contexts": [s["text"] for s in sources],
        "retrieved_context_ids": [s["chunk_id"] for s in sources],
        "response": result["answer"],
        "reference": answers[0] if answers else None,
    }


def to_ragas(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answered rows of a run as RAGAS samples, in run order."""
    return [ragas_sample(r) for r in results if not r.get("error") and "answer" in r]


def export_ragas(run_dir: Path, out: Path | None = None) -> Export:
    """Write `run_dir`'s answered rows to `out` (default `run_dir/ragas.jsonl`) as JSON lines."""
    results = read_results(run_dir)
    if not results:
        raise ConfigError(f"{run_dir} holds no results.jsonl; give a folder `eval run` wrote")
    samples = to_ragas(results)
    errors = sum(1 for r in results if r.get("error"))
    path = out or run_dir / "ragas.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as sink:
        for sample in samples:
            sink.write(json.dumps(sample, ensure_ascii=False) + "\n")
    return Export(path, len(samples), errors, len(results) - errors - len(samples))
