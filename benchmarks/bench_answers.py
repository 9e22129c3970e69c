"""Does the answer state the document's value? Base vs adapter, free vs extractive decoding,
with and without the grounding fallback, in one run.

    python benchmarks/bench_answers.py [--sets demo-legal,demo-finance,demo-medical,squad,
        pubmedqa] [--rows 150] [--test-rows 30] [--recipe demo|steps24]

For each set an adapter is trained with the recipe (the demo's by default: qkvo, 12 steps,
oracle + 1 distractor, in the extractive answer form), then the set's held-out rows (the
demo domains' test splits; 30 rows of SQuAD articles and PubMedQA abstracts kept out of
training) go through the full pipeline (retrieval, prompt, generation) four ways: base and
adapter, each with free and extractive decoding. A fifth column per system applies the
grounding fallback (`grounding_action=quote`) to the free answers. Per cell: F1, EM, value
correct (the gold value in the answer), label accuracy (yes/no/maybe rows), values
supported (the share of answers whose every stated value a source holds, over answers
stating one), output tokens and generation seconds; paired 95% bootstrap intervals of
extractive - free (value correct and F1) for each system. Writes
benchmarks/results/answers.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_adapters import EXAMPLES, sweep_set
from common import write_results

from adaptrag.adapters import TrainOptions, train_adapter
from adaptrag.eval.datasets import read_qa
from adaptrag.eval.scoring import answer_scores
from adaptrag.eval.stats import bootstrap_ci, paired_bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.grounding import grounded
from adaptrag.rag.answering.query import Query
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Answer, QARow

RECIPES: dict[str, dict[str, Any]] = {
    "demo": {"max_steps": 12, "eval_every": 6},  # examples/demo.py's recipe
    "steps24": {"max_steps": 24, "eval_every": 12},
}
COMMON = {
    "lr": 1e-3,
    "batch_size": 4,
    "distractors": 1,
    "oracle_p": 0.9,
    "max_seq_tokens": 512,
    "targets": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gate_rows": 4,  # the gate's verdict is not what this measures; its rows are few
}
MAX_NEW_TOKENS = 48


def prepare(
    name: str, work: Path, rows: int, test_rows: int
) -> tuple[str, list[Path], Path, list[QARow]]:
    """(domain, what to ingest, training QA file, held-out rows) of a set."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    domain, corpus, picked = sweep_set(name, folder, rows)
    train = folder / "train.jsonl"
    if name.startswith("demo-"):
        shutil.copy(EXAMPLES / "qa" / f"{domain}_train.jsonl", train)
        held_out = read_qa(EXAMPLES / "qa" / f"{domain}_test.jsonl", domain=domain)
    else:
        train.write_text("".join(json.dumps(r) + "\n" for r in picked[test_rows:]))
        test = folder / "test.jsonl"
        test.write_text("".join(json.dumps(r) + "\n" for r in picked[:test_rows]))
        held_out = read_qa(test, domain=domain)
    return domain, corpus, train, held_out


def answer_rows(qa: Pipeline, rows: list[QARow], adapter: str) -> tuple[list[Answer], float]:
    queries = [
        Query(question=r.question, domain=r.domain, backend="local", adapter=adapter) for r in rows
    ]
    started = time.perf_counter()
    answers = qa.answer(queries)
    return answers, time.perf_counter() - started


def row_scores(answers: list[Answer], rows: list[QARow]) -> list[dict[str, Any]]:
    scored = []
    for answer, row in zip(answers, rows, strict=True):
        scores = answer_scores(answer.text, [s.text for s in answer.sources], row.answers)
        verdict = answer.grounding.supported if answer.grounding else None
        scored.append(
            {
                **scores,
                "supported": None if verdict is None else float(verdict),
                "tokens": answer.usage.output_tokens,
                "text": answer.text,
            }
        )
    return scored


def summary(scored: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    def mean_ci(key: str) -> dict[str, Any] | None:
        values = [float(s[key]) for s in scored if s[key] is not None]
        if not values:
            return None
        low, high = bootstrap_ci(values)
        return {"mean": statistics.fmean(values), "ci95": [low, high], "n": len(values)}

    return {
        "f1": mean_ci("f1"),
        "exact_match": mean_ci("exact_match"),
        "value_correct": mean_ci("value_correct"),
        "value_in_sources": mean_ci("value_in_sources"),
        "label_accuracy": mean_ci("label_correct"),
        "values_supported": mean_ci("supported"),
        "tokens": statistics.fmean(s["tokens"] for s in scored),
        "seconds": seconds,
    }


def paired(first: list[dict[str, Any]], second: list[dict[str, Any]], key: str) -> list[float]:
    a = [float(s[key] or 0.0) for s in first]
    b = [float(s[key] or 0.0) for s in second]
    low, high = paired_bootstrap_ci(a, b)
    return [statistics.fmean(b) - statistics.fmean(a), low, high]


def run_set(name: str, args: argparse.Namespace, work: Path, cache: Path) -> dict[str, Any]:
    domain, corpus, train, held_out = prepare(name, work, args.rows, args.test_rows)
    settings = Settings(
        data_dir=work / name / "data",
        model_cache_dir=cache,
        max_new_tokens=MAX_NEW_TOKENS,
        top_k=3,
        decoding="extractive",
    )
    ingest_paths(corpus, domain, settings=settings)
    options = TrainOptions(
        **{**COMMON, **RECIPES[args.recipe]}, domain=domain, data=train, name=f"{domain}-bench"
    )
    started = time.perf_counter()
    result = train_adapter(options, settings=settings, show_progress=False)
    train_s = time.perf_counter() - started
    ref = result.adapter.ref
    cells: dict[str, Any] = {}
    scored: dict[str, list[dict[str, Any]]] = {}
    for decoding in ("free", "extractive"):
        with Pipeline(settings.replaced(**{"decoding": decoding})) as qa:
            for system, adapter in (("base", "base"), ("adapter", ref)):
                answers, seconds = answer_rows(qa, held_out, adapter)
                key = f"{system} {decoding}"
                scored[key] = row_scores(answers, held_out)
                cells[key] = summary(scored[key], seconds)
                if decoding == "free":  # the grounding fallback on the same answers
                    quoted = [
                        grounded(a, r.question, "quote")
                        for a, r in zip(answers, held_out, strict=True)
                    ]
                    scored[f"{system} free+quote"] = row_scores(quoted, held_out)
                    cells[f"{system} free+quote"] = summary(scored[f"{system} free+quote"], seconds)
                print(f"{name:<13} {line(key, cells[key])}", flush=True)
    differences = {
        f"{system} extractive - free": {
            metric: paired(scored[f"{system} free"], scored[f"{system} extractive"], metric)
            for metric in ("value_correct", "f1", "exact_match")
        }
        for system in ("base", "adapter")
    }
    differences["adapter - base (extractive)"] = {
        metric: paired(scored["base extractive"], scored["adapter extractive"], metric)
        for metric in ("value_correct", "f1", "exact_match")
    }
    answered = [
        {
            "question": r.question,
            "gold": r.answers[0][:80],
            **{key: rows[i]["text"] for key, rows in scored.items()},
        }
        for i, r in enumerate(held_out)
    ]
    return {
        "set": name,
        "rows": len(held_out),
        "train_seconds": round(train_s, 1),
        "cells": cells,
        "differences": differences,
        "answers": answered,  # every row's answer in every cell, for reading
    }


def line(key: str, cell: dict[str, Any]) -> str:
    label = cell["label_accuracy"]
    supported = cell["values_supported"]
    return (
        f"{key:<20} F1 {cell['f1']['mean']:.3f} EM {cell['exact_match']['mean']:.3f} "
        f"value {cell['value_correct']['mean']:.2f} "
        f"[{cell['value_correct']['ci95'][0]:.2f}, {cell['value_correct']['ci95'][1]:.2f}]"
        + (f" label {label['mean']:.2f}" if label else "")
        + (f" supported {supported['mean']:.2f}" if supported else "")
        + f" tokens {cell['tokens']:.1f} {cell['seconds']:.0f}s"
    )


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| set | system | F1 | EM | value correct [95% CI] | label acc. | values supported "
        "| tokens | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for key, cell in result["cells"].items():
            value, label, supported = (
                cell["value_correct"],
                cell["label_accuracy"],
                cell["values_supported"],
            )
            lines.append(
                f"| {result['set']} | {key} | {cell['f1']['mean']:.3f} | "
                f"{cell['exact_match']['mean']:.3f} | {value['mean']:.2f} "
                f"[{value['ci95'][0]:.2f}, {value['ci95'][1]:.2f}] | "
                f"{'' if label is None else format(label['mean'], '.2f')} | "
                f"{'' if supported is None else format(supported['mean'], '.2f')} | "
                f"{cell['tokens']:.1f} | {cell['seconds']:.0f} |"
            )
    lines += ["", "| set | difference | value correct | F1 | EM |", "|---|---|---|---|---|"]
    for result in results:
        for name, metrics in result["differences"].items():
            cells = [
                f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                for d, lo, hi in (metrics[m] for m in ("value_correct", "f1", "exact_match"))
            ]
            lines.append(f"| {result['set']} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="demo-legal,demo-finance,demo-medical,squad,pubmedqa")
    parser.add_argument("--rows", type=int, default=150, help="QA rows per public set")
    parser.add_argument("--test-rows", type=int, default=30, help="held out of a public set")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="demo")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-answers-"))
    cache = Settings().models_dir
    results: list[dict[str, Any]] = []
    out = {"recipe": args.recipe, "max_new_tokens": MAX_NEW_TOKENS, "sets": results}
    try:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            results.append(run_set(name, args, work, cache))
            write_results(f"answers_{args.recipe}", out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + table(results))


if __name__ == "__main__":
    main()
