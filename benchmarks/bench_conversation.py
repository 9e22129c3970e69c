"""Follow-up questions: searched as written, with the conversation (the product's rule),
and the standalone questions they stand for, in the same run.

    python benchmarks/bench_conversation.py [--top-k 5]

The demo corpus is ingested (its three domains in one collection); each row of
examples/qa/followups.jsonl (28 follow-ups written from the demo corpus: earlier user
turns, the follow-up, the standalone question it stands for, the document that answers)
is searched three ways within its domain: the standalone question, the follow-up as
written, and the follow-up with its history (`Query(history=...)`, `rag.retrieval.conversation`).
Prints hit@1 and hit@k (the answering document among the results) of each, and the paired
95% interval of (with history - standalone); writes benchmarks/results/conversation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.eval.stats import paired_bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.query import Query
from adaptrag.rag.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (EXAMPLES / "qa" / "followups.jsonl").open()]
    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-conversation-"))
    settings = Settings(
        data_dir=work / "data", model_cache_dir=Settings().models_dir, top_k=args.top_k
    )
    try:
        for domain in ("legal", "finance", "medical"):
            ingest_paths([EXAMPLES / "corpus" / domain], domain, settings=settings)
        ways: dict[str, list[Query]] = {
            "standalone": [Query(r["standalone"], domain=r["domain"]) for r in rows],
            "as written": [Query(r["question"], domain=r["domain"]) for r in rows],
            "with history": [
                Query(
                    r["question"], domain=r["domain"], history=[("user", t) for t in r["history"]]
                )
                for r in rows
            ],
        }
        hits: dict[str, dict[str, list[float]]] = {}
        with Pipeline(settings) as qa:
            for way, queries in ways.items():
                found = [[s.doc_id for s in qa.retrieve(q)] for q in queries]
                hits[way] = {
                    "hit@1": [
                        float(f[:1] == [r["doc_id"]]) for f, r in zip(found, rows, strict=True)
                    ],
                    f"hit@{args.top_k}": [
                        float(r["doc_id"] in f) for f, r in zip(found, rows, strict=True)
                    ],
                }
        result: dict[str, Any] = {"rows": len(rows), "top_k": args.top_k, "ways": {}}
        for way, metrics in hits.items():
            result["ways"][way] = {m: statistics.fmean(v) for m, v in metrics.items()}
            line = "  ".join(f"{m} {statistics.fmean(v):.3f}" for m, v in metrics.items())
            print(f"{way:<13} {line}")
        for metric in hits["standalone"]:
            low, high = paired_bootstrap_ci(
                hits["standalone"][metric], hits["with history"][metric]
            )
            gap = result["ways"]["with history"][metric] - result["ways"]["standalone"][metric]
            result[f"{metric} with history - standalone"] = [gap, low, high]
            print(f"{metric} with history - standalone: {gap:+.3f} [{low:+.3f}, {high:+.3f}]")
        write_results("conversation", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
