"""Embedding runtimes side by side, in one run: PyTorch fp32, ONNX Runtime fp32 and int8.

    python benchmarks/bench_embedding.py [--sets cuad squad pubmedqa] [--docs N]
        [--questions 300] [--runtimes torch onnx onnx-int8]

Per public set (the rows and corpora of bench_retrieval.py) and runtime: the corpus
ingested into a fresh embedded store (chunks/s, and the ratio to torch's in the same run),
then every question searched by `Pipeline.retrieve` (hybrid, top 5): hit@5 with the paired
difference to torch (95% BCa interval), and the end-to-end query latency (embed + search)
p50/p95 with their ratios to torch. Each runtime's model is loaded, and its ONNX export made,
before anything is timed (the export's one-off cost is printed apart), and each runtime
ingests a small warm-up corpus first, so no runtime pays the process's first-use costs.
Documents per set: 20 CUAD contracts, 20 SQuAD articles, 300 PubMedQA abstracts (one
question each), unless --docs. Writes benchmarks/results/embedding.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_retrieval import SETS, Passage, is_hit, load
from common import write_results

from adaptrag.eval.stats import paired_bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline, Query
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

WARM_TEXTS = ["a warm-up sentence", "and another, a little longer, to load the model"]
DOCS = {"cuad": 20, "squad": 20, "pubmedqa": 300}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def embedders(runtimes: list[str]) -> tuple[dict[str, SentenceTransformerEmbedder], dict]:
    """Each runtime's embedder, loaded and exported (timed apart)."""
    cache = Settings().models_dir / "onnx"
    made, ready_s = {}, {}
    for runtime in runtimes:
        embedder = SentenceTransformerEmbedder(runtime=runtime, cache_dir=cache)
        started = time.perf_counter()
        embedder.embed_passages(WARM_TEXTS)
        ready_s[runtime] = round(time.perf_counter() - started, 2)
        made[runtime] = embedder
    return made, ready_s


def run_set(name: str, args: argparse.Namespace, made: dict[str, Any]) -> dict[str, Any]:
    corpus, rows = load(name, args.docs or DOCS[name], args.questions)
    scoped = SETS[name][2] == "doc"
    print(f"\n== {name}: {len(corpus)} documents, {len(rows)} questions", flush=True)
    results: dict[str, Any] = {"documents": len(corpus), "questions": len(rows)}
    hits: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        (folder / "corpus.jsonl").write_text(
            "".join(
                json.dumps({"doc_id": d["doc_id"], "title": d.get("title", ""), "text": d["text"]})
                + "\n"
                for d in corpus
            )
        )
        warm = Path(tmp) / "warm"
        warm.mkdir()
        (warm / "warm.md").write_text("# Warm-up\n\n" + " ".join(WARM_TEXTS * 40))
        for runtime, embedder in made.items():
            ingest_paths(
                [warm],
                "warm",
                settings=Settings(data_dir=Path(tmp) / f"warm-{runtime}"),
                embedder=embedder,
            )
            settings = Settings(
                data_dir=Path(tmp) / runtime,
                embedding_runtime=runtime,  # type: ignore[arg-type]
                model_cache_dir=Settings().models_dir,
            )
            report = ingest_paths([folder], "bench", settings=settings, embedder=embedder)
            assert report.ok, report.failed
            results[f"{runtime} chunks"] = report.chunks_embedded
            results[f"{runtime} chunks/s"] = round(report.chunks_embedded / report.seconds, 1)
            found, took = [], []
            with Pipeline(settings, embedder=embedder) as qa:
                qa.retrieve("warm up the store", top_k=1)
                for row in rows:
                    query = Query(row.question, doc_id=row.doc_id if scoped else None, top_k=5)
                    started = time.perf_counter()
                    sources = qa.retrieve(query)
                    took.append((time.perf_counter() - started) * 1000)
                    found.append(
                        float(any(is_hit(name, row, Passage(s.doc_id, s.text)) for s in sources))
                    )
            hits[runtime], latencies[runtime] = found, took
            results[f"{runtime} hit@5"] = round(sum(found) / len(found), 3)
            results[f"{runtime} p50_ms"] = round(statistics.median(took), 2)
            results[f"{runtime} p95_ms"] = round(percentile(took, 0.95), 2)
            print(
                f"  {runtime:10} ingest {results[f'{runtime} chunks/s']:7} chunks/s  "
                f"hit@5 {results[f'{runtime} hit@5']:.3f}  query p50 "
                f"{results[f'{runtime} p50_ms']} ms p95 {results[f'{runtime} p95_ms']} ms",
                flush=True,
            )
    base = next(iter(made))
    for runtime in list(made)[1:]:
        low, high = paired_bootstrap_ci(hits[base], hits[runtime])
        difference = (sum(hits[runtime]) - sum(hits[base])) / len(hits[base])
        results[f"{runtime} - {base} hit@5"] = f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]"
        results[f"{runtime} ingest x"] = round(
            results[f"{runtime} chunks/s"] / results[f"{base} chunks/s"], 2
        )
        results[f"{runtime} query p50 x"] = round(
            results[f"{base} p50_ms"] / results[f"{runtime} p50_ms"], 2
        )
        print(
            f"  {runtime} vs {base}: hit@5 {results[f'{runtime} - {base} hit@5']}, ingest "
            f"{results[f'{runtime} ingest x']}x, query p50 {results[f'{runtime} query p50 x']}x"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--docs", type=int, default=0, help="documents per set (first N)")
    parser.add_argument("--questions", type=int, default=300, help="questions per set")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "onnx", "onnx-int8"])
    args = parser.parse_args()
    made, ready_s = embedders(args.runtimes)
    print("load (and export, once per model and precision) s:", ready_s)
    results: dict[str, Any] = {name: run_set(name, args, made) for name in args.sets}
    results["ready_s"] = ready_s
    results["args"] = vars(args)
    write_results("embedding", results)


if __name__ == "__main__":
    main()
