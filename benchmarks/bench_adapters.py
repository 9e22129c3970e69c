"""Adapters against their baselines, measured in the same process.

    python benchmarks/bench_adapters.py [--docs 3] [--train-rows 160] [--eval-rows 40]
        [--max-steps 40] [--skip-quality]

1. Switching: choosing another adapter for a request (PEFT `set_adapter`, and a cold
   `load_adapter` from disk) against the naive way, reloading the base model and the adapter.
2. Mixed batches: one batch whose rows use three adapters (`adapter_names=`) against the
   same prompts generated one at a time, each with its adapter.
3. Training and quality on SQuAD (shared/data): a few SQuAD articles ingested as domain
   `general`, an adapter trained on questions about them, and held-out questions answered by
   the adapter and by the base model through the full pipeline: EM and F1 of both.

Prints ratios and writes benchmarks/results/adapters.json.

    python benchmarks/bench_adapters.py --sweep [--sets demo-legal,squad,...]
        [--variants baseline,steps 24,...]

4. The recipe sweep: for each QA set (the three demo domains, SQuAD articles, PubMedQA
   abstracts with their yes/no/maybe labels, CUAD contracts) and each recipe variant (one
   change from the baseline: steps, learning rate, rank, target modules, oracle
   probability, answer length), an adapter is trained and gated through the full pipeline
   on the set's held-out rows (30). Per cell: base and adapter F1, EM, value correct
   (gold value in the answer), label accuracy (PubMedQA), value in sources, the F1 gain
   with its paired 95% interval, and the training time. The base model's answers are
   computed once per set and answer length. Writes benchmarks/results/adapters_sweep.json
   after every cell and prints the table as Markdown at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from common import RESULTS, write_results

from adaptrag.adapters import (
    AdapterRegistry,
    AdapterRuntime,
    TrainOptions,
    add_adapter,
    train_adapter,
)
from adaptrag.adapters.runtime import peft_name
from adaptrag.adapters.training import split_rows
from adaptrag.eval.datasets import read_qa
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import build_prompt
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PROMPTS = [
    build_prompt(q, [Source("d", "c", t, 1.0, {"title": "Doc"})])
    for q, t in [
        ("How much notice is needed?", "Either party may terminate with ninety days notice."),
        ("What is the rent?", "Annual base rent is EUR 96,000, payable monthly."),
        ("How long is the NDA?", "Confidentiality survives for four years."),
        ("Who is hedged?", "Eighty percent of forecast purchases are hedged."),
        ("What is the dose?", "The starting dose is 5 mg once daily."),
        ("When to return?", "Return if fever exceeds 38.5 degrees."),
    ]
]


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def random_adapters(settings: Settings, work: Path, count: int) -> list[str]:
    """`count` LoRA adapters with random weights, registered like any PEFT adapter."""
    from peft import LoraConfig, get_peft_model

    refs = []
    for seed in range(count):
        base = LocalGenerator(models_dir=settings.models_dir).hf_model
        torch.manual_seed(seed)
        config = LoraConfig(
            r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
        )
        get_peft_model(base, config).save_pretrained(str(work / f"peft{seed}"))
        refs.append(add_adapter(work / f"peft{seed}", f"d{seed}", settings=settings).ref)
    return refs


def bench_switch(settings: Settings, refs: list[str]) -> dict[str, float]:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    registry = AdapterRegistry(settings.data_dir)
    runtime = AdapterRuntime(registry)
    generator = LocalGenerator(models_dir=settings.models_dir)
    first, second = (runtime.resolve(r) for r in refs[:2])
    runtime.generate_many(generator, PROMPTS[:1], [first], max_new_tokens=1)
    model = generator.hf_model
    load_s = timed(lambda: model.load_adapter(second.path, adapter_name=peft_name(second)))
    names = [peft_name(first), peft_name(second)]
    switches = [timed(lambda n=n: model.set_adapter(n)) for _ in range(50) for n in names]
    cached = settings.models_dir / "SmolLM2-135M-Instruct"

    def reload() -> None:
        base = AutoModelForCausalLM.from_pretrained(cached)
        PeftModel.from_pretrained(base, second.path)

    reload()  # warm the file cache, as the switch path had it warm
    reloads = [timed(reload) for _ in range(3)]
    result = {
        "set_adapter_ms": statistics.median(switches) * 1000,
        "load_adapter_ms": load_s * 1000,
        "reload_base_and_adapter_s": statistics.median(reloads),
    }
    result["reload_over_set_adapter"] = (
        result["reload_base_and_adapter_s"] * 1000 / result["set_adapter_ms"]
    )
    result["reload_over_load_adapter"] = (
        result["reload_base_and_adapter_s"] * 1000 / result["load_adapter_ms"]
    )
    print(
        f"switch: set_adapter {result['set_adapter_ms']:.2f} ms, cold load_adapter "
        f"{result['load_adapter_ms']:.0f} ms, reload base + adapter "
        f"{result['reload_base_and_adapter_s']:.2f} s -> {result['reload_over_set_adapter']:.0f}x "
        f"(vs set_adapter), {result['reload_over_load_adapter']:.1f}x (vs a cold load)"
    )
    return result


def bench_mixed(settings: Settings, refs: list[str]) -> dict[str, float]:
    runtime = AdapterRuntime(AdapterRegistry(settings.data_dir))
    generator = LocalGenerator(models_dir=settings.models_dir)
    choices = [runtime.resolve(r) for r in refs[:3]]
    rows = [choices[i % 3] for i in range(len(PROMPTS))]
    runtime.generate_many(generator, PROMPTS, rows, max_new_tokens=2)  # load all, warm up
    mixed = statistics.median(
        timed(lambda: runtime.generate_many(generator, PROMPTS, rows, max_new_tokens=24))
        for _ in range(3)
    )
    one_by_one = statistics.median(
        timed(
            lambda: [
                runtime.generate_many(generator, [p], [r], max_new_tokens=24)
                for p, r in zip(PROMPTS, rows, strict=True)
            ]
        )
        for _ in range(3)
    )
    result = {"mixed_batch_s": mixed, "sequential_s": one_by_one, "speedup": one_by_one / mixed}
    print(
        f"mixed batch of {len(PROMPTS)} prompts over 3 adapters: {mixed:.2f} s; one at a time: "
        f"{one_by_one:.2f} s -> {result['speedup']:.2f}x"
    )
    return result


def bench_quality(args: argparse.Namespace, settings: Settings, work: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in (SHARED / "squad_dev.jsonl").open()]
    articles = [doc for doc, _ in Counter(r["doc_id"] for r in rows).most_common(args.docs)]
    corpus = work / "corpus.jsonl"
    with corpus.open("w") as sink:
        for line in (SHARED / "squad_dev_corpus.jsonl").open():
            if json.loads(line)["doc_id"] in articles:
                sink.write(line)
    report = ingest_paths([corpus], "general", settings=settings)
    chosen = [r for r in rows if r["doc_id"] in articles]
    random.Random(0).shuffle(chosen)
    # One QA file; the trainer holds eval_rows of it out of training (seeded) for the gate.
    data = work / "qa.jsonl"
    picked = chosen[: args.train_rows + args.eval_rows]
    data.write_text("".join(json.dumps(r) + "\n" for r in picked))
    options = TrainOptions(
        domain="general",
        data=data,
        max_steps=args.max_steps,
        batch_size=4,
        eval_split=args.eval_rows / len(picked),
        distractors=2,
        max_seq_tokens=640,
        eval_every=10,
        gate_rows=None,
        lr=args.lr,
        targets=tuple(args.targets.split(",")),
    )
    result = train_adapter(options, settings=settings, show_progress=True)
    training = result.adapter.training
    scores = result.adapter.scores
    _, held_out = split_rows(read_qa(data), options.eval_split, options.seed)
    with Pipeline(settings) as qa:
        for row in held_out[:6]:
            tuned = qa.ask(row.question, domain="general", adapter=result.adapter.ref)
            base = qa.ask(row.question, domain="general", adapter="base")
            print(f"Q: {row.question}\n  gold: {row.answers[0]}")
            print(f"  adapter: {tuned.text}\n  base: {base.text}")
    out = {
        "articles": articles,
        "chunks": report.chunks_total,
        "train_rows": result.adapter.data["train_rows"],
        "held_out_rows": result.adapter.data["val_rows"],
        "steps": training["steps"],
        "seconds_per_step": training["seconds_per_step"],
        "examples_per_s": options.batch_size / training["seconds_per_step"],
        "eval_losses": training["eval_losses"],
        "scores": scores,
        "promoted": result.promoted,
        "f1_gain": scores["adapter"]["f1"] - scores["base"]["f1"],
    }
    print(
        f"training: {out['steps']} steps of 4 examples, {out['seconds_per_step']:.2f} s/step, "
        f"{out['examples_per_s']:.2f} examples/s; eval loss {out['eval_losses']}"
    )
    print(
        f"quality on {out['held_out_rows']} held-out SQuAD questions (full pipeline): adapter "
        f"F1 {scores['adapter']['f1']:.3f} EM {scores['adapter']['em']:.3f} | base F1 "
        f"{scores['base']['f1']:.3f} EM {scores['base']['em']:.3f} | promoted: {result.promoted}"
    )
    return out


EXAMPLES = ROOT / "examples"
SWEEP_BASE = {  # the recipe every variant changes one thing of
    "max_steps": 12,
    "lr": 1e-3,
    "batch_size": 4,
    "distractors": 1,
    "oracle_p": 0.9,
    "max_seq_tokens": 512,
    "eval_every": 6,
    "r": 8,
    "alpha": 16,
    "targets": ("q_proj", "v_proj"),
}
VARIANTS: dict[str, dict[str, Any]] = {  # name: TrainOptions changes, "answer_tokens"
    "baseline": {},
    "steps 24": {"max_steps": 24, "eval_every": 6},
    "steps 48": {"max_steps": 48, "eval_every": 12},
    "lr 3e-4 x24": {"lr": 3e-4, "max_steps": 24},
    "lr 2e-3": {"lr": 2e-3},
    "r 16": {"r": 16, "alpha": 32},
    "qkvo": {"targets": ("q_proj", "k_proj", "v_proj", "o_proj")},
    "all linear": {
        "targets": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    },
    "distractors 2": {"distractors": 2, "max_seq_tokens": 640},
    "oracle 0.6": {"oracle_p": 0.6},
    "oracle 1.0": {"oracle_p": 1.0},
    "answer 48": {"answer_tokens": 48},
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open()]


def _corpus_of(name: str, docs: set[str], work: Path) -> Path:
    """The lines of shared/data/<name>_corpus.jsonl whose doc_id is in `docs`."""
    out = work / f"{name}_corpus.jsonl"
    with out.open("w") as target:
        for line in (SHARED / f"{name}_corpus.jsonl").open():
            if json.loads(line)["doc_id"] in docs:
                target.write(line)
    return out


def sweep_set(name: str, work: Path, rows: int) -> tuple[str, list[Path], list[dict[str, Any]]]:
    """(domain, what to ingest, QA rows) of a sweep set."""
    if name.startswith("demo-"):
        domain = name.removeprefix("demo-")
        return (
            domain,
            [EXAMPLES / "corpus" / domain],
            _jsonl(EXAMPLES / "qa" / f"{domain}_train.jsonl"),
        )
    if name == "squad":
        data = _jsonl(SHARED / "squad_dev.jsonl")
        articles = {d for d, _ in Counter(r["doc_id"] for r in data).most_common(3)}
        picked = [r for r in data if r["doc_id"] in articles]
    elif name == "pubmedqa":
        picked = _jsonl(SHARED / "pubmedqa_train.jsonl")[:rows]
    elif name == "cuad":
        data = _jsonl(SHARED / "cuad_dev.jsonl")
        picked, docs = [], set()
        for doc, _ in Counter(r["doc_id"] for r in data).most_common():
            if len(picked) >= rows:
                break
            docs.add(doc)
            picked += [r for r in data if r["doc_id"] == doc]
    else:
        raise SystemExit(
            f"unknown sweep set {name!r}; known: demo-legal, demo-finance, "
            "demo-medical, squad, pubmedqa, cuad"
        )
    random.Random(0).shuffle(picked)
    picked = picked[:rows]
    source = {"squad": "squad_dev", "pubmedqa": "pubmedqa_train", "cuad": "cuad_dev"}[name]
    corpus = _corpus_of(source, {r["doc_id"] for r in picked}, work)
    return "general", [corpus], [{**r, "domain": "general"} for r in picked]


def bench_sweep(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every variant on every set (variant by variant, so early results cover all sets)."""
    cache = Settings().models_dir
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    prepared: dict[str, tuple[str, Path, Settings]] = {}
    for name in sets:
        folder = work / name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        domain, corpus, rows = sweep_set(name, folder, args.sweep_rows)
        data = folder / "qa.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        settings = Settings(
            data_dir=folder / "data", model_cache_dir=cache, max_new_tokens=24, top_k=3
        )
        report = ingest_paths(corpus, domain, settings=settings)
        print(f"{name}: {len(rows)} rows, {report.chunks_total} chunks", flush=True)
        prepared[name] = (domain, data, settings)
    pipelines: dict[tuple[str, int], Pipeline] = {}
    cells: list[dict[str, Any]] = []
    previous = RESULTS / "adapters_sweep.json"
    if args.resume and previous.is_file():  # cells of an earlier run with the same base recipe
        cells += json.loads(previous.read_text())["cells"]
    done = {(c["set"], c["variant"]) for c in cells}
    out: dict[str, Any] = {
        "base_recipe": {**SWEEP_BASE, "targets": list(SWEEP_BASE["targets"])},
        "cells": cells,
    }
    try:
        for variant in variants:
            change = dict(VARIANTS[variant])
            answer_tokens = change.pop("answer_tokens", 24)
            for name in sets:
                if (name, variant) in done:
                    continue
                domain, data, settings = prepared[name]
                key = (name, answer_tokens)
                if key not in pipelines:
                    pipelines[key] = Pipeline(
                        settings.replaced(**{"max_new_tokens": answer_tokens})
                    )
                options = TrainOptions(
                    **{**SWEEP_BASE, **change},
                    domain=domain,
                    data=data,
                    name=f"{domain}-{len(cells)}",
                    eval_split=0.2,
                )
                started = time.perf_counter()
                result = train_adapter(
                    options,
                    settings=pipelines[key].settings,
                    pipeline=pipelines[key],
                    show_progress=False,
                )
                scores = result.adapter.scores
                cell = {
                    "set": name,
                    "variant": variant,
                    "seconds": round(time.perf_counter() - started, 1),
                    "train_seconds": result.adapter.training["seconds"],
                    "steps": result.steps,
                    "adapter": scores["adapter"],
                    "base": scores["base"],
                    "gate": scores["gate"],
                }
                cells.append(cell)
                print(sweep_line(cell), flush=True)
                write_results("adapters_sweep", out)
    finally:
        for qa in pipelines.values():
            qa.close()
    print("\n" + sweep_table(cells))
    return out


def sweep_line(cell: dict[str, Any]) -> str:
    a, b, g = cell["adapter"], cell["base"], cell["gate"]
    label = (
        f" label {b.get('label_accuracy', 0):.2f}->{a.get('label_accuracy', 0):.2f}"
        if "label_accuracy" in a
        else ""
    )
    return (
        f"{cell['set']:<13} {cell['variant']:<12} F1 {b['f1']:.3f}->{a['f1']:.3f} "
        f"{g['f1_difference']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}] "
        f"value {b['value_correct']:.2f}->{a['value_correct']:.2f} (in sources "
        f"{a['value_in_sources']:.2f}){label} {'PASS' if g['passed'] else 'fail'} "
        f"{cell['train_seconds']:.0f}s train"
    )


def sweep_table(cells: list[dict[str, Any]]) -> str:
    lines = [
        "| set | variant | base F1 | adapter F1 | F1 gain [95% CI] | base EM | adapter EM "
        "| base value | adapter value | value in sources | base label | adapter label | gate "
        "| train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        a, b, g = c["adapter"], c["base"], c["gate"]
        low, high = g["ci95"]
        lines.append(
            f"| {c['set']} | {c['variant']} | {b['f1']:.3f} | {a['f1']:.3f} | "
            f"{g['f1_difference']:+.3f} [{low:+.3f}, {high:+.3f}] | {b['em']:.3f} | "
            f"{a['em']:.3f} | "
            f"{b['value_correct']:.2f} | {a['value_correct']:.2f} | {a['value_in_sources']:.2f} | "
            f"{b.get('label_accuracy', '')} | {a.get('label_accuracy', '')} | "
            f"{'pass' if g['passed'] else 'fail'} | {c['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3, help="SQuAD articles to ingest")
    parser.add_argument("--train-rows", type=int, default=160)
    parser.add_argument("--eval-rows", type=int, default=40)
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--targets", default="q_proj,v_proj", help="LoRA target modules")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="the recipe sweep only")
    parser.add_argument(
        "--sets", default="demo-legal,demo-finance,demo-medical,squad,pubmedqa,cuad"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--sweep-rows", type=int, default=150, help="QA rows per public set")
    parser.add_argument("--resume", action="store_true", help="keep the cells already measured")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-adapters-"))
    if args.sweep:
        try:
            bench_sweep(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    settings = Settings(
        data_dir=work / "data", model_cache_dir=Settings().models_dir, max_new_tokens=32
    )
    results: dict[str, Any] = {}
    refs = random_adapters(settings, work, 3)
    results["switch"] = bench_switch(settings, refs)
    results["mixed"] = bench_mixed(settings, refs)
    if not args.skip_quality:
        results["quality"] = bench_quality(args, settings, work)
    write_results("adapters", results)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
