"""Ingestion under kill -9: documents and points before and after each kill, against a
clean run of the same corpus in the same process.

    python benchmarks/bench_faults.py [--kills 3 8 15]

The corpus is ../shared/data/cuad_dev_corpus.jsonl (50 long contracts) when present, else
examples/sample. The baseline is one uninterrupted `adaptrag ingest` into a fresh data dir.
Then, for each delay, a fresh data dir: `adaptrag ingest` is started, killed with SIGKILL
after that many seconds, its partial store counted, run again to the end and counted. A run
passes when it ends with exactly the baseline's documents and chunk ids: nothing lost,
nothing duplicated. Writes benchmarks/results/faults.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import store_for

ROOT = Path(__file__).resolve().parents[1]
CUAD = ROOT.parent / "shared" / "data" / "cuad_dev_corpus.jsonl"
EXE = str(Path(sys.executable).parent / "adaptrag")


def contents(data_dir: Path) -> tuple[set[str], set[str]]:
    """(doc ids, chunk ids) stored in the data dir's default collection."""
    store = store_for(Settings(data_dir=data_dir), None)
    try:
        if store.spec() is None:
            return set(), set()
        rows = list(store.scroll(None, ("doc_id", "chunk_id")))
    finally:
        store.close()
    return {str(r["doc_id"]) for r in rows}, {str(r["chunk_id"]) for r in rows}


def ingest(corpus: Path, data_dir: Path, kill_after_s: float | None = None) -> int | None:
    env = dict(os.environ, ADAPTRAG_DATA_DIR=str(data_dir))
    command = [EXE, "ingest", str(corpus), "--domain", "legal", "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after_s is None:
        process.wait()
        return process.returncode
    time.sleep(kill_after_s)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=float, nargs="+", default=[3.0, 8.0, 15.0])
    args = parser.parse_args()
    corpus = CUAD if CUAD.is_file() else ROOT / "examples" / "sample"
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-faults-"))
    started = time.perf_counter()
    assert ingest(corpus, work / "clean") == 0, "the clean run failed"
    clean_s = time.perf_counter() - started
    docs, chunks = contents(work / "clean")
    print(f"clean run: {len(docs)} documents, {len(chunks)} points in {clean_s:.0f} s")
    results: dict[str, Any] = {
        "corpus": corpus.name,
        "clean": {"documents": len(docs), "points": len(chunks), "seconds": clean_s},
        "kills": [],
    }
    for delay in args.kills:
        data_dir = work / f"kill-{delay:g}"
        ingest(corpus, data_dir, kill_after_s=delay)
        partial_docs, partial_chunks = contents(data_dir)
        code = ingest(corpus, data_dir)
        final_docs, final_chunks = contents(data_dir)
        row = {
            "kill_after_s": delay,
            "after_kill": {"documents": len(partial_docs), "points": len(partial_chunks)},
            "after_rerun": {"documents": len(final_docs), "points": len(final_chunks)},
            "rerun_exit": code,
            "lost_points": len(chunks - final_chunks),
            "extra_points": len(final_chunks - chunks),
            "exact": final_docs == docs and final_chunks == chunks,
        }
        results["kills"].append(row)
        print(
            f"kill -9 after {delay:g} s: {len(partial_docs)} documents / {len(partial_chunks)} "
            f"points stored; after the re-run {len(final_docs)} / {len(final_chunks)} "
            f"(lost {row['lost_points']}, extra {row['extra_points']}, exact: {row['exact']})"
        )
    write_results("faults", results)


if __name__ == "__main__":
    main()
