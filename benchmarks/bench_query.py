"""Query latency against its baselines, measured in the same process.

    python benchmarks/bench_query.py [--sizes 10000 100000] [--queries 200]
        [--baseline-queries 30] [--skip-ask] [--runtimes torch onnx]

1. Retrieval (embed + search) p50/p95 at each size, through our `Retriever` (real MiniLM
   query embedding, hybrid RRF search), Qdrant Edge against qdrant-client's local mode (the
   baseline), without and with a domain filter. Vectors are synthetic, inserted through the
   store API. Target: p50 under 20 ms at 100k on Edge, and >= 10x faster than local mode.
   With `--runtimes`: the same Edge store searched with each embedding runtime's query
   embedding (`ADAPTRAG_EMBEDDING_RUNTIME`; fp32 ones, the store's precision), p50/p95 and
   the ratio to the first runtime, in the same run; and LangChain's Qdrant retriever
   (`QdrantVectorStore(...).as_retriever()` with `HuggingFaceEmbeddings`, dense search) over
   the same vectors in qdrant-client's embedded mode, the store a LangChain user gets
   without a server (`--baseline-queries` questions: it searches by brute force).
2. End-to-end `ask` with the local model, split by stage, and generation tokens/s, against
   a bare `model.generate` of the very same prompt (the baseline: what our pipeline adds).

Prints ratios and writes benchmarks/results/query.json.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from common import write_results

from adaptrag.rag.prompts import build_prompt
from adaptrag.rag.retrieval.collection_info import wanted_spec
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder, resolve_model_path
from adaptrag.rag.retrieval.retriever import Retriever, SearchOptions, build_where
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import VectorStore
from adaptrag.rag.stores.base import StoredChunk
from adaptrag.rag.stores.edge import EdgeStore
from adaptrag.rag.stores.server import ServerStore

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "data" / "squad_dev.jsonl"
DOMAINS = ("legal", "finance", "medical")
WORDS = (
    "tenant",
    "lease",
    "notice",
    "rent",
    "deposit",
    "clause",
    "party",
    "agreement",
    "liability",
    "indemnity",
    "loan",
    "credit",
    "rate",
    "yield",
    "fund",
    "treasury",
    "risk",
    "capital",
    "dose",
    "patient",
    "trial",
    "protocol",
    "symptom",
    "discharge",
    "oil",
    "crisis",
    "price",
    "river",
    "city",
    "empire",
    "university",
    "football",
    "physics",
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`."""
    return float(np.percentile(values, q))


def synthetic(
    size: int, dimension: int, seed: int = 0
) -> Iterator[list[tuple[int, np.ndarray, str]]]:
    """`size` synthetic chunks in batches of 1000: (number, unit vector, text), made as
    they are asked for (the same seed, the same chunks)."""
    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    for start in range(0, size, 1000):
        batch = rng.normal(size=(min(1000, size - start), dimension)).astype(np.float32)
        batch /= np.linalg.norm(batch, axis=1, keepdims=True)
        yield [
            (start + offset, row, " ".join(words.choices(WORDS, k=40)))
            for offset, row in enumerate(batch)
        ]


def fill(store: VectorStore, size: int, spec: Any, seed: int = 0) -> float:
    """`size` synthetic chunks through the store API; returns seconds taken."""
    sparse = SparseEncoder()
    store.create(spec)
    started = time.perf_counter()
    for batch in synthetic(size, spec.dimension, seed):
        chunks = []
        for n, row, text in batch:
            chunks.append(
                StoredChunk(
                    chunk_id=f"00000000-0000-4000-8000-{n:012d}",
                    dense=row.tolist(),
                    sparse=sparse.encode_passage(text),
                    payload={
                        "doc_id": f"doc-{n // 4}",
                        "chunk_index": n % 4,
                        "domain": DOMAINS[n % 3],
                        "text": text,
                    },
                )
            )
        store.upsert(chunks)
    store.optimize()
    return time.perf_counter() - started


def latencies(
    retriever: Retriever, questions: list[str], where: Any
) -> tuple[list[float], list[float]]:
    """Per-question total (embed + search) and search-only milliseconds."""
    options = SearchOptions(top_k=5, merge_adjacent=False)
    retriever.search(questions[0], where, options)  # warm caches
    totals, searches = [], []
    for question in questions:
        started = time.perf_counter()
        found = retriever.search(question, where, options)
        totals.append((time.perf_counter() - started) * 1000)
        searches.append(found.search_ms)
    return totals, searches


def bench_retrieval(args: argparse.Namespace, embedder: SentenceTransformerEmbedder) -> dict:
    questions = [json.loads(line)["question"] for line in QUESTIONS.open()][: args.queries]
    spec = wanted_spec(
        embedder, SparseEncoder(), chunk_tokens=200, chunk_overlap_tokens=32, dimension=384
    )
    results: dict[str, Any] = {}
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-query-"))
        from qdrant_client import QdrantClient

        client = QdrantClient(":memory:")
        stores: dict[str, VectorStore] = {
            "edge": EdgeStore(work, "bench"),
            "local_mode": ServerStore(client, "bench"),
        }
        row: dict[str, Any] = {}
        for name, store in stores.items():
            seconds = fill(store, size, spec)
            retriever = Retriever(store, embedder)
            asked = questions if name == "edge" else questions[: args.baseline_queries]
            for label, where in (("all", None), ("domain", build_where(domain="legal"))):
                totals, searches = latencies(retriever, asked, where)
                row[f"{name}/{label}"] = {
                    "p50_ms": percentile(totals, 50),
                    "p95_ms": percentile(totals, 95),
                    "search_p50_ms": percentile(searches, 50),
                    "queries": len(asked),
                }
            row[f"{name}/upserts_per_s"] = size / seconds
            store.close()
        client.close()
        shutil.rmtree(work, ignore_errors=True)
        for label in ("all", "domain"):
            edge, base = row[f"edge/{label}"], row[f"local_mode/{label}"]
            row[f"speedup/{label}"] = base["p50_ms"] / edge["p50_ms"]
            print(
                f"{size:>7} chunks, {'domain filter' if label == 'domain' else 'no filter':13}: "
                f"Edge p50 {edge['p50_ms']:.1f} ms p95 {edge['p95_ms']:.1f} ms (search "
                f"{edge['search_p50_ms']:.2f} ms) | local mode p50 {base['p50_ms']:.1f} ms "
                f"p95 {base['p95_ms']:.1f} ms | {row[f'speedup/{label}']:.1f}x"
            )
        print(
            f"{size:>7} chunks, fill rate (chunks/s, including making the synthetic chunks "
            f"and Edge's HNSW build): Edge {row['edge/upserts_per_s']:.0f}, local mode "
            f"{row['local_mode/upserts_per_s']:.0f} (no index)"
        )
        results[str(size)] = row
    return results


def bench_runtimes(args: argparse.Namespace) -> dict:
    """Edge p50/p95 at each size with each runtime's query embedding; ratios to the first."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.open()][: args.queries]
    cache = Settings().models_dir / "onnx"
    embedders = {r: SentenceTransformerEmbedder(runtime=r, cache_dir=cache) for r in args.runtimes}
    for embedder in embedders.values():
        embedder.embed_queries(["warm up"])  # loaded and exported before timing
    first = next(iter(embedders.values()))
    spec = wanted_spec(
        first, SparseEncoder(), chunk_tokens=200, chunk_overlap_tokens=32, dimension=384
    )
    results: dict[str, Any] = {}
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-runtime-"))
        store = EdgeStore(work, "bench")
        fill(store, size, spec)
        row: dict[str, Any] = {}
        for _ in range(2):  # each runtime twice, alternating, the second pass kept
            for runtime, embedder in embedders.items():
                totals, searches = latencies(Retriever(store, embedder), questions, None)
                row[runtime] = {
                    "p50_ms": percentile(totals, 50),
                    "p95_ms": percentile(totals, 95),
                    "search_p50_ms": percentile(searches, 50),
                }
        store.close()
        shutil.rmtree(work, ignore_errors=True)
        row["langchain"] = langchain_latencies(size, spec, questions[: args.baseline_queries])
        base = row[args.runtimes[0]]["p50_ms"]
        for runtime in [*args.runtimes, "langchain"]:
            row[runtime]["speedup"] = base / row[runtime]["p50_ms"]
            print(
                f"{size:>7} chunks, {runtime:10}: p50 {row[runtime]['p50_ms']:.1f} ms p95 "
                f"{row[runtime]['p95_ms']:.1f} ms (search {row[runtime]['search_p50_ms']:.2f} "
                f"ms) | {row[runtime]['speedup']:.2f}x"
            )
        results[str(size)] = row
    return results


def langchain_latencies(size: int, spec: Any, questions: list[str]) -> dict[str, float]:
    """LangChain's Qdrant retriever over `fill`'s chunks in embedded mode."""
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection(
        "lc", vectors_config=models.VectorParams(size=spec.dimension, distance="Cosine")
    )
    for batch in synthetic(size, spec.dimension):  # fill's chunks
        points = [
            models.PointStruct(
                id=n, vector=row.tolist(), payload={"page_content": text, "metadata": {}}
            )
            for n, row, text in batch
        ]
        client.upsert("lc", points)
    embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model_path(Settings().embedding_model),
        encode_kwargs={"normalize_embeddings": True},
    )
    retriever = QdrantVectorStore(client, "lc", embedding=embeddings).as_retriever(
        search_kwargs={"k": 5}
    )
    retriever.invoke(questions[0])  # warm
    totals = []
    for question in questions:
        started = time.perf_counter()
        retriever.invoke(question)
        totals.append((time.perf_counter() - started) * 1000)
    client.close()
    return {
        "p50_ms": percentile(totals, 50),
        "p95_ms": percentile(totals, 95),
        "search_p50_ms": float("nan"),
        "queries": len(questions),
    }


def bench_ask(embedder: SentenceTransformerEmbedder) -> dict:
    import torch

    from adaptrag.ingest import ingest_paths
    from adaptrag.rag.answering.pipeline import Pipeline
    from adaptrag.rag.generators.local import LocalGenerator

    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-ask-"))
    settings = Settings(data_dir=work, max_new_tokens=64, backend="local")
    sample = ROOT / "examples" / "sample"
    for domain in sorted(p.name for p in sample.iterdir() if p.is_dir()):
        ingest_paths([sample / domain], domain, settings=settings, embedder=embedder)
    questions = [
        "How much notice is needed to terminate the lease?",
        "How long do the confidentiality obligations last?",
        "What is the maximum single counterparty exposure?",
        "What is the recommended starting dose?",
        "When should a patient return to the emergency department?",
    ]
    generator = LocalGenerator(models_dir=Settings().models_dir)
    stages: dict[str, list[float]] = {}
    ratios, speeds = [], []
    with Pipeline(settings, embedder=embedder, generators={"local": generator}) as qa:
        qa.ask(questions[0])  # load and warm
        for question in questions:
            answer = qa.ask(question)
            for stage, ms in answer.timings.items():
                stages.setdefault(stage, []).append(ms)
            speeds.append(answer.usage.output_tokens / (answer.timings["generate_ms"] / 1000))
            # Baseline: the bare model on the same prompt, same greedy settings and length.
            inputs = generator.tokenizer(
                generator.chat_text(build_prompt(question, answer.sources)),
                return_tensors="pt",
                add_special_tokens=False,
            )
            started = time.perf_counter()
            with torch.inference_mode():
                generator.hf_model.generate(
                    **inputs,
                    max_new_tokens=answer.usage.output_tokens,
                    min_new_tokens=answer.usage.output_tokens,
                    do_sample=False,
                )
            bare_ms = (time.perf_counter() - started) * 1000
            ratios.append(answer.timings["total_ms"] / bare_ms)
    shutil.rmtree(work, ignore_errors=True)
    result = {stage: statistics.median(values) for stage, values in stages.items()}
    result["tokens_per_s"] = statistics.median(speeds)
    result["ask_over_bare_generate"] = statistics.median(ratios)
    print(
        "ask (local, median of 5): "
        + ", ".join(f"{k} {v:.0f}" for k, v in result.items() if k.endswith("_ms"))
        + f"; {result['tokens_per_s']:.1f} tokens/s; whole ask / bare model.generate of the "
        f"same prompt: {result['ask_over_bare_generate']:.2f}x"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries per Edge run")
    parser.add_argument(
        "--baseline-queries", type=int, default=30, help="queries per local-mode run (slow)"
    )
    parser.add_argument("--skip-ask", action="store_true", help="retrieval only")
    parser.add_argument(
        "--runtimes", nargs="+", default=[], help="embedding runtimes to compare on Edge (fp32)"
    )
    parser.add_argument("--runtimes-only", action="store_true", help="only the runtime comparison")
    args = parser.parse_args()
    if args.runtimes:
        runtimes = bench_runtimes(args)
        if args.runtimes_only:
            write_results("query-runtimes", {"runtimes": runtimes, "args": vars(args)})
            return
    embedder = SentenceTransformerEmbedder()
    embedder.embed_queries(["warm up"])
    results: dict[str, Any] = {"retrieval": bench_retrieval(args, embedder)}
    if args.runtimes:
        results["runtimes"] = runtimes
    if not args.skip_ask:
        results["ask"] = bench_ask(embedder)
    write_results("query", results)


if __name__ == "__main__":
    main()
