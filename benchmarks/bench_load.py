"""The server under load: concurrent clients for a bounded time, loopback only.

    python benchmarks/bench_load.py [--clients 30] [--seconds 20] [--max-requests 20000]

`adaptrag serve` runs in a second process over an embedded store holding examples/sample,
with an API key, an ingest root and the Claude backend pointed at the tests' fake Messages
API on 127.0.0.1 (0.2 s a reply, like a fast real call). The baseline is one client sending
retrieve requests one after another. Then, each for `--seconds` with `--clients` threads:

- retrieve, every request a different question;
- retrieve, every request the same question (the case that once wedged the server);
- mixed: most clients retrieve the same question, some ask Claude, a few ask the local
  model, while an ingest job of 40 files runs (then the mixed round and the same-question
  round once more, to see whether memory levels off).

For each: requests/s and its ratio to the baseline, latency p50/p95, responses by status,
/healthz latency (p50 and max, sampled every 0.25 s by a separate client) and the server's
RSS before and after. Writes benchmarks/results/load.json. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx
from bench_server import KEY, free_port, percentile, serve
from common import write_results

from adaptrag.ingest import ingest_paths
from adaptrag.rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample"
sys.path.insert(0, str(ROOT / "tests"))  # `helpers`: the fake Messages API the tests use
from helpers.fake_anthropic import API_KEY, FakeAnthropic  # noqa: E402

QUESTIONS = [
    "What is the annual base rent?",
    "How long does confidentiality last?",
    "What is the notice period?",
    "Who may prescribe the medication?",
    "What does the treasury hedge?",
    "When is rent due?",
    "What is the maximum dose?",
    "Which law governs the agreement?",
]
Request = Callable[[httpx.Client, int], httpx.Response]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def retrieve_unique(client: httpx.Client, n: int) -> httpx.Response:
    question = f"{QUESTIONS[n % len(QUESTIONS)]} (variant {n})"
    return client.post("/v1/retrieve", json={"question": question})


def retrieve_same(client: httpx.Client, n: int) -> httpx.Response:
    return client.post("/v1/retrieve", json={"question": QUESTIONS[0]})


def ask(backend: str) -> Request:
    def send(client: httpx.Client, n: int) -> httpx.Response:
        body = {"question": QUESTIONS[n % len(QUESTIONS)], "backend": backend}
        return client.post("/v1/ask", json=body)

    return send


def run(url: str, plan: list[Request], seconds: float, max_requests: int) -> dict[str, Any]:
    """Each entry of `plan` is one client sending its request in a loop until time is up."""
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    health: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    sent = [0]

    def client_loop(request: Request) -> None:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=180) as client:
            while not stop.is_set():
                with lock:
                    if sent[0] >= max_requests:
                        return
                    sent[0] += 1
                    n = sent[0]
                started = time.perf_counter()
                try:
                    status = str(request(client, n).status_code)
                except httpx.TransportError as error:
                    status = type(error).__name__
                with lock:
                    statuses[status] += 1
                    latencies.append((time.perf_counter() - started) * 1000)

    def health_loop() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get("/healthz")
                health.append((time.perf_counter() - started) * 1000)
                stop.wait(0.25)

    threads = [threading.Thread(target=client_loop, args=(r,)) for r in plan]
    threads.append(threading.Thread(target=health_loop))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": len(plan),
        "requests": sum(statuses.values()),
        "requests_per_s": sum(statuses.values()) / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p95_ms": percentile(latencies, 95) if latencies else None,
        "statuses": dict(statuses),
        "healthz_p50_ms": statistics.median(health) if health else None,
        "healthz_max_ms": max(health) if health else None,
    }


def ingest_folder(work: Path) -> None:
    """40 files for the ingest job that runs during the mixed scenario."""
    folder = work / "root" / "load"
    sources = sorted(p for p in SAMPLE.rglob("*") if p.is_file())
    for n in range(40):
        source = sources[n % len(sources)]
        target = folder / f"{n:02d}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        with target.open("a") as out:
            out.write(f"\n\nCopy {n} for the load benchmark.\n")


def report(name: str, result: dict[str, Any], baseline: float) -> None:
    result["ratio_to_baseline"] = result["requests_per_s"] / baseline
    errors = {k: v for k, v in result["statuses"].items() if not k.startswith("2")}
    print(
        f"{name}: {result['clients']} clients, {result['requests']} requests, "
        f"{result['requests_per_s']:.1f} req/s ({result['ratio_to_baseline']:.2f}x one client), "
        f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, errors {errors or 0}, "
        f"/healthz p50 {result['healthz_p50_ms']:.1f} ms max {result['healthz_max_ms']:.0f} ms, "
        f"RSS {result['rss_before_mb']:.0f} -> {result['rss_after_mb']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-load-"))
    settings = Settings(data_dir=work / "data", model_cache_dir=Settings().models_dir)
    for domain in ("legal", "finance", "medical"):
        ingest_paths([SAMPLE / domain], domain, settings=settings, show_progress=False)
    ingest_folder(work)
    fake = FakeAnthropic().start()
    fake.delay_s = 0.2
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(
        settings,
        port,
        timeout_s=300,
        ADAPTRAG_API_KEYS=f"{KEY}:*:ingest",
        ADAPTRAG_BACKEND="auto",
        ADAPTRAG_INGEST_ROOT=str(work / "root"),
        ADAPTRAG_MAX_NEW_TOKENS="16",
        ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_API_KEY=API_KEY,
    )
    results: dict[str, Any] = {}
    try:
        scenarios: list[tuple[str, list[Request], float]] = [
            ("baseline: 1 client, retrieve", [retrieve_unique], min(args.seconds, 10)),
            ("retrieve, unique questions", [retrieve_unique] * args.clients, args.seconds),
            ("retrieve, the same question", [retrieve_same] * args.clients, args.seconds),
        ]
        local = min(4, args.clients // 4)
        claude = min(6, args.clients // 4)
        mixed = [ask("local")] * local + [ask("claude")] * claude
        mixed += [retrieve_same] * (args.clients - len(mixed))
        scenarios.append(("mixed + ingest job", mixed, args.seconds))
        # Again, to see memory level off once models, caches and buffers are warm.
        scenarios.append(("mixed + ingest job, again", mixed, args.seconds))
        scenarios.append(("retrieve, the same question, again", scenarios[2][1], args.seconds))
        baseline = 0.0
        for name, plan, seconds in scenarios:
            before = rss_mb(server.pid)
            if name.startswith("mixed"):
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                    job = c.post("/v1/ingest", json={"paths": ["load"], "domain": "legal"})
                    job.raise_for_status()
            result = run(url, plan, seconds, args.max_requests)
            result["rss_before_mb"], result["rss_after_mb"] = before, rss_mb(server.pid)
            baseline = baseline or result["requests_per_s"]
            report(name, result, baseline)
            results[name] = result
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
            results["after"] = {
                "retrieve": c.post("/v1/retrieve", json={"question": QUESTIONS[1]}).status_code,
                "readyz": c.get("/readyz").status_code,
            }
        print(
            f"afterwards: retrieve {results['after']['retrieve']}, readyz "
            f"{results['after']['readyz']}"
        )
    finally:
        server.terminate()
        server.wait(60)
        fake.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_results("load", results)


if __name__ == "__main__":
    main()
