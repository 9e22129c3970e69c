"""Decoding settings of the local model against plain greedy decoding, in the same process.

    python benchmarks/bench_generation.py [--data-dir DIR --collection demo] [--rows 92]
        [--max-new-tokens 200] [--variants greedy,paragraph,...]

The held-out questions of the demo corpus (examples/qa/*_test.jsonl) go through the full
pipeline (retrieval, prompt, generation) at the product's default answer length, once per
decoding variant, with the base model and, when the data dir holds active adapters for the
domains (a `make demo` data dir: `--data-dir ~/.local/share/adaptrag --collection demo`),
with each domain's adapter. Without `--data-dir`, the demo corpus is ingested into a temp
dir first (base model only). Per variant: F1, value correct (the gold value in the answer),
mean output tokens, the share of answers that ran to the token limit (an answer that loops
never ends), the share with a 4-word sequence written twice, and generation time as a ratio
to greedy's. Writes benchmarks/results/generation.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.adapters import AdapterRegistry
from adaptrag.eval.datasets import read_qa
from adaptrag.eval.scoring import answer_scores
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.query import Query
from adaptrag.rag.generators.local import Decoding, LocalGenerator
from adaptrag.rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("legal", "finance", "medical")
VARIANTS: dict[str, Decoding] = {
    "greedy": Decoding(),
    "paragraph": Decoding(stop_at_paragraph=True),
    "rep 1.1": Decoding(repetition_penalty=1.1),
    "rep 1.2": Decoding(repetition_penalty=1.2),
    "no-repeat 4": Decoding(no_repeat_ngram_size=4),
    "paragraph + no-repeat 4": Decoding(stop_at_paragraph=True, no_repeat_ngram_size=4),
    "paragraph + rep 1.1": Decoding(stop_at_paragraph=True, repetition_penalty=1.1),
}


def repeats_itself(text: str, n: int = 4) -> bool:
    """Whether some sequence of n words appears twice in the text."""
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def measure(
    qa: Pipeline, generator: LocalGenerator, rows: list[Any], adapter: bool, max_new: int
) -> dict[str, Any]:
    """One pass over the rows with the generator's current decoding."""
    queries = [
        Query(
            question=r.question,
            domain=r.domain,
            backend="local",
            adapter=None if adapter else "base",
            max_new_tokens=max_new,
        )
        for r in rows
    ]
    started = time.perf_counter()
    answers = qa.answer(queries)
    seconds = time.perf_counter() - started
    scores = [
        answer_scores(a.text, [s.text for s in a.sources], r.answers)
        for a, r in zip(answers, rows, strict=True)
    ]
    tokens = [a.usage.output_tokens for a in answers]
    return {
        "rows": len(rows),
        "f1": statistics.fmean(float(s["f1"] or 0.0) for s in scores),
        "value_correct": statistics.fmean(float(s["value_correct"] or 0.0) for s in scores),
        "output_tokens": statistics.fmean(tokens),
        "at_limit": sum(1 for t in tokens if t >= max_new) / len(tokens),
        "repeats": sum(1 for a in answers if repeats_itself(a.text)) / len(answers),
        "seconds": seconds,
        "example": answers[0].text,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, help="a data dir with the corpus (and adapters)")
    parser.add_argument("--collection", default="demo")
    parser.add_argument("--rows", type=int, default=92, help="held-out rows, across domains")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    rows = [r for d in DOMAINS for r in read_qa(ROOT / "examples" / "qa" / f"{d}_test.jsonl")]
    rows = rows[:: max(1, len(rows) // args.rows)][: args.rows]
    if args.data_dir is None:
        temp = tempfile.mkdtemp(prefix="bench-generation-")
        settings = Settings(data_dir=Path(temp), collection=args.collection, top_k=args.top_k)
        for domain in DOMAINS:
            corpus = ROOT / "examples" / "corpus" / domain
            ingest_paths([corpus], domain, settings=settings, show_progress=False)
    else:
        settings = load_settings(
            data_dir=args.data_dir, collection=args.collection, top_k=args.top_k
        )
    registry = AdapterRegistry(settings.data_dir)
    with_adapters = all(registry.active(d) is not None for d in DOMAINS)
    generator = LocalGenerator(
        settings.local_model.generator_model,
        models_dir=settings.models_dir,
        batch_size=settings.local_model.generation_batch_size,
    )
    results: dict[str, Any] = {
        "rows": len(rows),
        "max_new_tokens": args.max_new_tokens,
        "adapters": with_adapters,
        "variants": {},
    }
    systems = ("base", "adapter") if with_adapters else ("base",)
    print(f"{len(rows)} held-out rows, answers up to {args.max_new_tokens} tokens; {systems}")
    print(
        f"{'variant':<26}{'system':<9}{'F1':>7}{'value':>7}{'tokens':>8}{'at limit':>9}"
        f"{'repeats':>9}{'time x':>8}"
    )
    with Pipeline(settings, generators={"local": generator}) as qa:
        measure(qa, generator, rows[:2], False, 4)  # warm up: models loaded, not timed
        baseline: dict[str, float] = {}
        for name in args.variants.split(","):
            generator.decoding = replace(VARIANTS[name])
            results["variants"][name] = {}
            for system in systems:
                cell = measure(qa, generator, rows, system == "adapter", args.max_new_tokens)
                baseline.setdefault(system, cell["seconds"])
                cell["time_ratio"] = cell["seconds"] / baseline[system]
                results["variants"][name][system] = cell
                print(
                    f"{name:<26}{system:<9}{cell['f1']:>7.3f}{cell['value_correct']:>7.3f}"
                    f"{cell['output_tokens']:>8.1f}{cell['at_limit']:>9.2f}"
                    f"{cell['repeats']:>9.2f}{cell['time_ratio']:>8.2f}",
                    flush=True,
                )
    write_results("generation", results)


if __name__ == "__main__":
    main()
