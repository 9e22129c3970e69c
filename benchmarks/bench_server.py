"""HTTP server throughput for retrieve-only requests, against in-process retrieval.

    python benchmarks/bench_server.py [--docs 16] [--requests 300] [--concurrency 1 4 8]

A SQuAD corpus from ../shared/data (else examples/sample) is ingested into an embedded
store. The baseline is `Pipeline.retrieve` called in this process, one question after
another. Then `adaptrag serve` runs in a second process over the same data dir, with an API
key, and this process sends `POST /v1/retrieve` requests with a bounded number in flight
(`--concurrency`), over keep-alive connections. Prints requests/s, latency p50/p95 and the
ratio to the in-process rate, and writes benchmarks/results/server.json. Client and server
share the machine's cores, as they would on one host.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx
from common import write_results

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KEY = "bench-key-0123456789abcdef"


def corpus(work: Path, docs: int) -> tuple[Path, list[str]]:
    """A corpus file (or folder) and questions about it."""
    if not (SHARED / "squad_dev_corpus.jsonl").is_file():
        questions = ["What is the notice period?", "What is the rent?", "Who may prescribe it?"]
        return ROOT / "examples" / "sample", questions * 20
    articles = [json.loads(line) for line in (SHARED / "squad_dev_corpus.jsonl").open()][:docs]
    chosen = {a["doc_id"] for a in articles}
    path = work / "corpus.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in articles))
    questions = [
        row["question"]
        for line in (SHARED / "squad_dev.jsonl").open()
        if (row := json.loads(line))["doc_id"] in chosen
    ]
    return path, questions


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process(settings: Settings, questions: list[str]) -> dict[str, float]:
    with Pipeline(settings) as qa:
        qa.retrieve(questions[0], top_k=5)  # load the model and open the store
        latencies = []
        started = time.perf_counter()
        for question in questions:
            t = time.perf_counter()
            qa.retrieve(question, top_k=5)
            latencies.append((time.perf_counter() - t) * 1000)
        seconds = time.perf_counter() - started
    return {
        "requests_per_s": len(questions) / seconds,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 95),
    }


def load(url: str, questions: list[str], concurrency: int) -> dict[str, float]:
    """Send every question once with at most `concurrency` requests in flight."""
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, headers=headers, limits=limits, timeout=60) as client:

        def one(question: str) -> float:
            t = time.perf_counter()
            response = client.post("/v1/retrieve", json={"question": question, "top_k": 5})
            response.raise_for_status()
            return (time.perf_counter() - t) * 1000

        for question in questions[: concurrency * 2]:  # warm connections
            one(question)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(one, questions))
        seconds = time.perf_counter() - started
    return {
        "requests_per_s": len(questions) / seconds,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 95),
    }


def serve(
    settings: Settings, port: int, timeout_s: float = 120, **env_overrides: str
) -> subprocess.Popen[bytes]:
    """`adaptrag serve` in a second process, once /readyz says 200 (env overrides added)."""
    env = dict(
        os.environ,
        ADAPTRAG_DATA_DIR=str(settings.data_dir),
        ADAPTRAG_MODEL_CACHE_DIR=str(settings.models_dir),
        ADAPTRAG_API_KEYS=KEY,
        ADAPTRAG_BACKEND="claude",  # retrieve-only: the server need not load the local model
    )
    env.update(env_overrides)
    command = [str(Path(sys.executable).parent / "adaptrag"), "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server did not become ready in {timeout_s:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=16, help="SQuAD articles to ingest")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-server-"))
    settings = Settings(data_dir=work / "data", model_cache_dir=Settings().models_dir)
    source, questions = corpus(work, args.docs)
    report = ingest_paths([source], "general", settings=settings)
    questions = (questions * (args.requests // len(questions) + 1))[: args.requests]
    print(f"{report.chunks_total} chunks; {len(questions)} retrieve requests per run")

    baseline = in_process(settings, questions)
    print(
        f"in-process Pipeline.retrieve: {baseline['requests_per_s']:.1f} req/s, "
        f"p50 {baseline['p50_ms']:.1f} ms, p95 {baseline['p95_ms']:.1f} ms"
    )
    results: dict[str, Any] = {"chunks": report.chunks_total, "in_process": baseline, "http": {}}
    port = free_port()
    server = serve(settings, port)
    try:
        for concurrency in args.concurrency:
            measured = load(f"http://127.0.0.1:{port}", questions, concurrency)
            measured["ratio_to_in_process"] = (
                measured["requests_per_s"] / baseline["requests_per_s"]
            )
            results["http"][str(concurrency)] = measured
            print(
                f"HTTP /v1/retrieve, {concurrency} in flight: {measured['requests_per_s']:.1f} "
                f"req/s ({measured['ratio_to_in_process']:.2f}x in-process), p50 "
                f"{measured['p50_ms']:.1f} ms, p95 {measured['p95_ms']:.1f} ms"
            )
    finally:
        server.terminate()
        server.wait(30)
    write_results("server", results)


if __name__ == "__main__":
    main()
