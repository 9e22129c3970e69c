"""Retrieval quality: adaptrag's search modes against the naive script anyone could write.

    python benchmarks/bench_retrieval.py [--sets cuad squad pubmedqa] [--docs 20]
        [--questions 300] [--variants default ...] [--top-k 5]

The baseline, in the same run on the same rows: 900-character chunks, the same MiniLM
model (`model.encode`, cosine), a plain BM25 (k1 1.2, b 0.75) and their reciprocal rank
fusion (k 60). adaptrag: the corpus ingested as JSONL records with each variant's settings
into a fresh embedded store, then `Pipeline.retrieve` (top 5) in hybrid, dense and sparse
mode.

Data (`../shared/data`), one row = one question with gold evidence:
- cuad: clause questions about one contract; the search is scoped to that contract
  (`doc_id`), a hit is a retrieved chunk holding the start (50 characters) of a gold clause.
- squad: questions over Wikipedia articles, all articles searched; a hit is a chunk of the
  right article holding a gold answer.
- pubmedqa: questions over abstracts, all searched; a hit is a chunk of the right abstract.

Prints hit@k per method and set, and the gain of adaptrag's default over the best naive
method; writes benchmarks/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from common import write_results

from adaptrag.eval.stats import bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline, Query
from adaptrag.rag.retrieval.collection_info import wanted_spec
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.sparse import V1, V2, V3, SparseConfig, SparseEncoder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import ensure_collection, store_for
from adaptrag.rag.stores.base import SearchMode

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {
    "cuad": ("cuad_dev.jsonl", "cuad_dev_corpus.jsonl", "doc"),
    "squad": ("squad_dev.jsonl", "squad_dev_corpus.jsonl", "all"),
    "pubmedqa": ("pubmedqa_train.jsonl", "pubmedqa_train_corpus.jsonl", "all"),
}
# How each variant indexes chunks: (chunk context, sparse encoding). "before" is adaptrag
# before issue 13 (the chunk alone, word tokens); "last stop" the default of the stop before
# stemming and content words (v2 tokens, title context).
VARIANTS: dict[str, tuple[str, str]] = {
    "default": ("title", V3),
    "no title": ("none", V3),
    "last stop": ("title", V2),
    "before": ("none", V1),
    "context only": ("title", V1),
    "tokens only": ("none", V2),
    # A sentence per chunk written by the local model (SmolLM2-135M): slow on CPU, so
    # measure it on a few documents (--docs 3).
    "local context": ("title", V3),
}
CONTEXTUALIZE = {"local context": "local"}
# How hybrid search fuses (settings changed at search time; the same index).
SEARCHES: dict[str, dict[str, Any]] = {
    "default": {},
    "rrf": {"fusion": "rrf"},
    "rrf dense x2": {"fusion": "rrf", "dense_weight": 2.0},
    "rrf dense x0.5": {"fusion": "rrf", "dense_weight": 0.5},
    "prefetch 200": {"prefetch_limit": 200},
    "dbsf": {"fusion": "dbsf"},
    "content words off": {"content_words_over": 0},
    "fill": {"fill_after_merge": True},
}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Row:
    question: str
    doc_id: str
    answers: list[str]
    evidence: list[str]


@dataclass(frozen=True)
class Passage:
    doc_id: str
    text: str


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def is_hit(name: str, row: Row, passage: Passage) -> bool:
    """Whether a retrieved passage answers the row, by the set's rule (module docstring)."""
    if passage.doc_id != row.doc_id:
        return False
    if name == "pubmedqa":
        return True
    text = norm(passage.text)
    if name == "squad":
        return any(norm(a) in text for a in row.answers if a.strip())
    return any(norm(e)[:50] in text for e in row.evidence if e.strip())


def load(name: str, docs: int, questions: int) -> tuple[list[dict[str, str]], list[Row]]:
    """The first `docs` documents of a set and up to `questions` of their rows, spread
    evenly over the documents (every k-th row)."""
    qa_file, corpus_file, _ = SETS[name]
    corpus = [json.loads(line) for line in (DATA / corpus_file).open()][:docs]
    kept = {d["doc_id"] for d in corpus}
    rows = [
        Row(r["question"], r["doc_id"], r["answers"], r.get("evidence", []))
        for r in map(json.loads, (DATA / qa_file).open())
        if r.get("doc_id") in kept
    ]
    step = max(1, len(rows) // questions)
    return corpus, rows[::step][:questions]


# --- the naive script ------------------------------------------------------------------


def naive_chunks(corpus: Sequence[dict[str, str]], size: int = 900) -> list[Passage]:
    return [
        Passage(d["doc_id"], d["text"][i : i + size])
        for d in corpus
        for i in range(0, len(d["text"]), size)
    ]


class Naive:
    """Dense (MiniLM), BM25 and RRF over fixed 900-character chunks."""

    def __init__(self, corpus: Sequence[dict[str, str]], model: Any) -> None:
        self.passages = naive_chunks(corpus)
        self.model = model
        self.vectors = model.encode(
            [p.text for p in self.passages], normalize_embeddings=True, batch_size=64
        )
        self.tokens = [_WORD.findall(p.text.lower()) for p in self.passages]
        self.df = Counter(t for tokens in self.tokens for t in set(tokens))
        self.avg_len = sum(map(len, self.tokens)) / max(len(self.tokens), 1)

    def candidates(self, doc_id: str | None) -> list[int]:
        return [i for i, p in enumerate(self.passages) if doc_id is None or p.doc_id == doc_id]

    def dense(self, question: str, pool: list[int]) -> list[int]:
        query = self.model.encode([question], normalize_embeddings=True)[0]
        scores = self.vectors[pool] @ query
        return [pool[i] for i in np.argsort(-scores)]

    def bm25(self, question: str, pool: list[int]) -> list[int]:
        terms = _WORD.findall(question.lower())
        n = len(self.passages)
        scores = []
        for i in pool:
            tf = Counter(self.tokens[i])
            norm_len = 1.2 * (1 - 0.75 + 0.75 * len(self.tokens[i]) / self.avg_len)
            score = 0.0
            for t in terms:
                if tf[t]:
                    idf = math.log(1 + (n - self.df[t] + 0.5) / (self.df[t] + 0.5))
                    score += idf * tf[t] * 2.2 / (tf[t] + norm_len)
            scores.append(score)
        return [pool[i] for i in np.argsort(-np.array(scores), kind="stable")]

    def rrf(self, question: str, pool: list[int]) -> list[int]:
        fused: dict[int, float] = {}
        for ranking in (self.dense(question, pool), self.bm25(question, pool)):
            for rank, i in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1 / (60 + rank + 1)
        return sorted(fused, key=lambda i: -fused[i])


# --- adaptrag ------------------------------------------------------------------------------


def ingest_variant(
    corpus: Sequence[dict[str, str]], tmp: Path, embedder: Any, name: str
) -> tuple[Settings, float]:
    folder = tmp / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    records = "".join(
        json.dumps({"doc_id": d["doc_id"], "title": d.get("title", ""), "text": d["text"]}) + "\n"
        for d in corpus
    )
    (folder / "corpus.jsonl").write_text(records)
    context, sparse = VARIANTS[name]
    settings = Settings(
        data_dir=tmp / "data",
        chunk_context=context,  # type: ignore[arg-type]
        contextualize=CONTEXTUALIZE.get(name, "none"),  # type: ignore[arg-type]
        model_cache_dir=Settings().models_dir,
    )
    # A collection keeps the encoding it was created with: create it with the variant's.
    store = store_for(settings)
    spec = wanted_spec(
        embedder,
        SparseEncoder(SparseConfig(version=sparse)),
        chunk_tokens=settings.ingest.chunk_tokens,
        chunk_overlap_tokens=settings.ingest.chunk_overlap_tokens,
        dimension=embedder.dimension,
        chunk_context=context,
        generated_context=settings.ingest.contextualize,
    )
    ensure_collection(store, spec, ingest=True)
    started = time.perf_counter()
    report = ingest_paths([folder], "bench", settings=settings, embedder=embedder, store=store)
    store.close()
    assert not report.failed, report.failed
    return settings, time.perf_counter() - started


def paired(mine: Sequence[bool], other: Sequence[bool]) -> str:
    """The mean paired difference and its 95% bootstrap interval, as text."""
    differences = [float(a) - float(b) for a, b in zip(mine, other, strict=True)]
    low, high = bootstrap_ci(differences)
    return f"{sum(differences) / len(differences):+.3f} [{low:+.3f}, {high:+.3f}]"


def hit_rate(hits: Sequence[bool]) -> float:
    return round(sum(hits) / max(len(hits), 1), 3)


def run_set(
    name: str, args: argparse.Namespace, embedder: SentenceTransformerEmbedder
) -> dict[str, Any]:
    corpus, rows = load(name, args.docs, args.questions)
    scoped = SETS[name][2] == "doc"
    print(f"\n== {name}: {len(corpus)} documents, {len(rows)} questions", flush=True)
    k = args.top_k
    started = time.perf_counter()
    naive = Naive(corpus, embedder.model)
    results: dict[str, Any] = {"documents": len(corpus), "questions": len(rows)}
    per_row: dict[str, list[bool]] = {}
    methods: dict[str, Callable[[str, list[int]], list[int]]] = {
        "naive dense": naive.dense,
        "naive bm25": naive.bm25,
        "naive rrf": naive.rrf,
    }
    for label, method in methods.items():
        hits = []
        chars = []
        for row in rows:
            ranked = method(row.question, naive.candidates(row.doc_id if scoped else None))[:k]
            hits.append(any(is_hit(name, row, naive.passages[i]) for i in ranked))
            chars.append(sum(len(naive.passages[i].text) for i in ranked))
        results[label] = hit_rate(hits)
        results[f"{label} chars"] = round(sum(chars) / max(1, len(chars)))
        per_row[label] = hits
    results["naive_s"] = round(time.perf_counter() - started, 1)
    for variant in args.variants:
        with tempfile.TemporaryDirectory() as tmp:
            settings, ingest_s = ingest_variant(corpus, Path(tmp), embedder, variant)
            results[f"{variant} ingest_s"] = round(ingest_s, 1)
            # Within one document, the lead chunk option matters: measure without it too.
            # (label, mode, lead chunk, fusion settings); "hybrid" is the first search.
            runs: list[tuple[str, SearchMode, bool, dict[str, Any]]] = [
                ("hybrid" if n == 0 else f"hybrid {search}", "hybrid", True, SEARCHES[search])
                for n, search in enumerate(args.searches)
            ]
            runs += [("dense", "dense", True, {}), ("sparse", "sparse", True, {})]
            if scoped:
                runs.append(("hybrid without lead chunk", "hybrid", False, {}))
            for label, mode, lead, fusion in runs:
                searched = settings.replaced(**fusion)
                with Pipeline(searched, embedder=embedder) as qa:
                    hits = []
                    chars = []  # the text a question gets back: what a hit is bought with
                    for row in rows:
                        query = Query(
                            row.question,
                            doc_id=row.doc_id if scoped else None,
                            top_k=k,
                            mode=mode,
                            lead_chunk=lead,
                        )
                        sources = qa.retrieve(query)
                        hits.append(
                            any(is_hit(name, row, Passage(s.doc_id, s.text)) for s in sources)
                        )
                        chars.append(sum(len(s.text) for s in sources))
                results[f"{variant} {label}"] = hit_rate(hits)
                results[f"{variant} {label} chars"] = round(sum(chars) / max(1, len(chars)))
                per_row[f"{variant} {label}"] = hits
    best_naive = max(methods, key=lambda m: results[m])
    # Paired differences on the same questions, with a 95% bootstrap interval.
    for variant in args.variants:
        pairs = [(f"{variant} hybrid", best_naive)]
        pairs += [
            (f"{variant} hybrid", f"{other} hybrid")
            for other in ("before", "last stop")
            if other != variant
        ]
        if scoped:
            pairs.append((f"{variant} hybrid", f"{variant} hybrid without lead chunk"))
        pairs += [
            (f"{variant} hybrid {search}", f"{variant} hybrid") for search in args.searches[1:]
        ]
        pairs += [(f"{variant} hybrid", f"{variant} dense")]
        for mine, other in pairs:
            if other in per_row:
                results[f"{mine} - {other}"] = paired(per_row[mine], per_row[other])
    for key, value in results.items():
        print(f"  {key:32} {value}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--docs", type=int, default=20, help="documents per set (first N)")
    parser.add_argument("--questions", type=int, default=300, help="questions per set")
    parser.add_argument("--variants", nargs="+", default=["default"], choices=list(VARIANTS))
    parser.add_argument(
        "--searches",
        nargs="+",
        default=["default"],
        choices=list(SEARCHES),
        help="hybrid fusions to measure; the first is the one called 'hybrid'",
    )
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder.from_settings(Settings())
    results = {name: run_set(name, args, embedder) for name in args.sets}
    results["args"] = vars(args)
    write_results("retrieval", results)
    shutil.rmtree(Path(tempfile.gettempdir()) / "adaptrag-bench", ignore_errors=True)


if __name__ == "__main__":
    main()
