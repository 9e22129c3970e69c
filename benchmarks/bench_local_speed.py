"""The local model's speed options against today's decoding, in the same process.

    python benchmarks/bench_local_speed.py [--rows 46] [--single 12] [--max-new-tokens 24]
        [--options today,static-cache,lookup-4,...] [--repeats 2]

The demo's held-out questions (examples/qa/*_test.jsonl, every other row) go through the
full pipeline (retrieval, evidence, prompt, extractive generation) with the base model at
the demo's answer length, two ways:

- batch: all rows in one `Pipeline.answer` call (what the gate and `eval run` do);
- single: one question per call (what `ask`, the server and a chat client do).

Each option runs `--repeats` times, alternating with the others; the fastest run of each
is kept. Per option: seconds, output tokens/s, decode tokens/s (the tokens after the first
over the time after the prompt's pass, timed by the same questions with one-token answers),
the ratios to today's, and how many answers are the same text as today's (the greedy
outputs an option must not change).

Options: `today` (batches of 8, dynamic KV cache); `static-cache` (transformers' static KV
cache); `batch-N`; `lookup-N` (prompt lookup decoding, drafts of N tokens from the prompt,
one question at a time: `ADAPTRAG_PROMPT_LOOKUP`); `int8` (torch's dynamic int8
quantisation of the linear layers). Writes benchmarks/results/local_speed.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from common import write_results

from adaptrag.eval.datasets import read_qa
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.query import Query
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import store_for

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("legal", "finance", "medical")


class StaticCache(LocalGenerator):
    """Today's generator with transformers' static KV cache (preallocated, fixed shapes)."""

    def _generation_config(self, max_new_tokens: int, rows: int = 1) -> Any:
        config = super()._generation_config(max_new_tokens, rows)
        config.cache_implementation = "static"
        return config


def generator(option: str, settings: Settings) -> LocalGenerator:
    """A fresh generator configured as `option` names."""
    kind = StaticCache if option == "static-cache" else LocalGenerator
    base = kind(models_dir=settings.models_dir, batch_size=8)
    base.decoding = replace(base.decoding, stop_at_paragraph=True, extractive=True)
    if option.startswith("batch-"):
        base.batch_size = int(option.removeprefix("batch-"))
    elif option.startswith("lookup-"):
        base.batch_size = 1
        base.decoding = replace(base.decoding, prompt_lookup=int(option.removeprefix("lookup-")))
    elif option == "int8":
        model = base.hf_model
        quantized = torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
        base._loaded = (quantized, base.tokenizer)
    elif option not in ("today", "static-cache"):
        raise SystemExit(f"error: unknown option {option!r}")
    return base


def timed(run: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    answers = run()
    return time.perf_counter() - started, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=46, help="held-out rows for the batch way")
    parser.add_argument("--single", type=int, default=12, help="rows asked one at a time")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--options", default="today,static-cache,batch-16,lookup-4,lookup-10")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    options = args.options.split(",")
    if options[0] != "today":
        options.insert(0, "today")

    rows = [r for d in DOMAINS for r in read_qa(ROOT / "examples" / "qa" / f"{d}_test.jsonl")]
    rows = rows[::2][: args.rows]
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-local-speed-")),
        collection="demo",
        top_k=3,
        fill_after_merge=False,
        max_new_tokens=args.max_new_tokens,
        model_cache_dir=Settings().models_dir,
    )
    for domain in DOMAINS:
        corpus = ROOT / "examples" / "corpus" / domain
        ingest_paths([corpus], domain, settings=settings, show_progress=False)
    queries = [
        Query(question=r.question, domain=r.domain, backend="local", adapter="base") for r in rows
    ]
    store = store_for(settings, settings.store.collection)  # one store and embedder for all
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    pipelines = {
        option: Pipeline(
            settings,
            store=store,
            embedder=embedder,
            generators={"local": generator(option, settings)},
        )
        for option in options
    }
    for qa in pipelines.values():
        qa.answer(queries[:2])  # loaded and warm, untimed

    first_tokens = [replace(q, max_new_tokens=1) for q in queries]  # the prompt's pass alone
    ways: dict[str, Callable[[Pipeline, list[Query]], list[Any]]] = {
        "batch": lambda qa, asked: qa.answer(asked),
        "single": lambda qa, asked: [qa.answer([q])[0] for q in asked[: args.single]],
    }
    best: dict[tuple[str, str, str], tuple[float, list[Any]]] = {}
    for _ in range(args.repeats):
        for way, run in ways.items():
            for option, qa in pipelines.items():
                for kind, asked in (("answer", queries), ("prefill", first_tokens)):
                    seconds, answers = timed(
                        lambda qa=qa, run=run, asked=asked: run(qa, asked)  # type: ignore[misc]
                    )
                    key = (way, option, kind)
                    if key not in best or seconds < best[key][0]:
                        best[key] = (seconds, answers)

    results: dict[str, Any] = {"rows": len(queries), "single": args.single, "ways": {}}
    print(f"{len(queries)} held-out rows (batch), {args.single} asked one at a time (single)")
    print(
        f"{'way':<7}{'option':<14}{'seconds':>9}{'tokens/s':>10}{'vs today':>10}"
        f"{'decode tok/s':>14}{'vs today':>10}{'same':>9}"
    )
    for way in ways:
        today_s, today = best[(way, "today", "answer")]
        results["ways"][way] = {}
        for option in options:
            seconds, answers = best[(way, option, "answer")]
            prefill_s = best[(way, option, "prefill")][0]
            tokens = sum(a.usage.output_tokens for a in answers)
            same = sum(a.text == b.text for a, b in zip(answers, today, strict=True))
            cell = {
                "seconds": seconds,
                "prefill_seconds": prefill_s,
                "output_tokens": tokens,
                "tokens_per_s": tokens / seconds,
                # tokens after the first, over the time after the prompt's pass
                "decode_tokens_per_s": (tokens - len(answers)) / max(1e-9, seconds - prefill_s),
                "vs_today": today_s / seconds,
                "same_answers": same,
                "answers": len(answers),
            }
            results["ways"][way][option] = cell
        base = results["ways"][way]["today"]["decode_tokens_per_s"]
        for option, cell in results["ways"][way].items():
            cell["decode_vs_today"] = cell["decode_tokens_per_s"] / base
            print(
                f"{way:<7}{option:<14}{cell['seconds']:>9.1f}{cell['tokens_per_s']:>10.1f}"
                f"{cell['vs_today']:>9.2f}x{cell['decode_tokens_per_s']:>14.1f}"
                f"{cell['decode_vs_today']:>9.2f}x{cell['same_answers']:>5}/{cell['answers']}"
            )
    write_results("local_speed", results)
    for qa in pipelines.values():
        qa.close()
    store.close()


if __name__ == "__main__":
    main()
