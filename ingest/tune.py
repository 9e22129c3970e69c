"""Domain-tuned retrieval: the embedding model fine-tuned on a domain's questions, promoted
blue/green only when it finds more of the held-out answers.

`tune_embeddings`:
1. **Pairs.** Each QA row is paired with the stored chunks of its domain that hold its
   evidence (the first 50 characters of a gold passage) or, for rows without evidence, an
   answer: within the row's document when it names one. Rows without such a chunk are
   left out (and counted).
2. **Split.** A seeded shuffle holds out `holdout` of the pairs for the decision.
3. **Hard negatives.** For each training question, the chunks the serving model ranks
   highest (dense search in the store, in the row's document with scope `doc_id`) that are
   not its positives.
4. **Training.** sentence-transformers' `MultipleNegativesRankingLoss` (in-batch negatives
   plus the hard ones), AdamW and a seeded order, on a copy of the serving model; saved
   under the data dir (`embeddings/NAME-vN`).
5. **A new version** of the collection (`NAME-vN`): every point of the serving version
   re-embedded by the tuned model (same ids, payloads, sparse vectors).
6. **The decision.** Held-out hit@k of the serving version and of the new one, the same
   hybrid search on the same rows. Promoted by the one promotion rule
   (`eval.stats.promotion`, the adapter gate's too): the paired 95% BCa bootstrap interval
   of the difference lies above zero (or when forced): the name is pointed at the new version
   with one atomic write, so queries never mix two models, and the old version stays until
   dropped. Otherwise the new version and its model are deleted.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from adaptrag.eval.stats import RULE as STATS_RULE
from adaptrag.eval.stats import promotion
from adaptrag.ingest.titles import embedded_text, embedded_texts, stored_indexed_text
from adaptrag.rag.errors import CollectionNotFoundError, ConfigError
from adaptrag.rag.retrieval.collection_info import embedder_for, wanted_spec
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from adaptrag.rag.retrieval.retriever import Fusion, Retriever, SearchOptions, build_where
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import (
    CollectionSpec,
    StoredChunk,
    VectorStore,
    Where,
    collection_names,
    connection,
    ensure_collection,
    store_for,
)
from adaptrag.rag.types import QARow

Scope = Literal["domain", "doc_id"]
RULE = f"{STATS_RULE} (held-out hit@k)"
_EVIDENCE_CHARS = 50
_VERSION = re.compile(r"-v(\d+)$")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TuneOptions:
    """How to tune and decide (defaults measured in benchmarks/bench_retrieval.py --tune)."""

    holdout: float = 0.2
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    negatives: int = 1
    scope: Scope = "domain"
    top_k: int = 5
    seed: int = 0
    force: bool = False

    def check(self) -> None:
        """One-line errors for values that cannot work."""
        if not 0.05 <= self.holdout <= 0.5:
            raise ConfigError(f"holdout must be between 0.05 and 0.5, not {self.holdout}")
        if self.epochs < 1 or self.batch_size < 2 or self.negatives < 0:
            raise ConfigError("epochs must be >= 1, batch_size >= 2 and negatives >= 0")
        if self.scope not in ("domain", "doc_id"):
            raise ConfigError(f"scope must be domain or doc_id, not {self.scope!r}")


@dataclass
class TuneReport:
    """What tuning did, measured and decided (`adaptrag embeddings tune --json`)."""

    collection: str
    domain: str
    serving_before: str
    version: str
    model: str
    base_model: str
    rows: int = 0
    pairs: int = 0
    train: int = 0
    held_out: int = 0
    top_k: int = 5
    hit_before: float = 0.0
    hit_after: float = 0.0
    difference: float = 0.0
    ci95: list[float] = field(default_factory=lambda: [0.0, 0.0])
    rule: str = RULE
    promoted: bool = False
    forced: bool = False
    serving: str = ""
    train_s: float = 0.0
    reindex_s: float = 0.0
    evaluate_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class _Pair:
    question: str
    doc_id: str | None
    positives: frozenset[str]  # chunk ids holding the evidence
    positive_text: str  # what was indexed for the first of them


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def find_pairs(
    rows: Sequence[QARow],
    chunks: Sequence[dict[str, Any]],
    indexed: Callable[[dict[str, Any]], str],
) -> list[_Pair]:
    """Each row with the chunks that hold its evidence (see the module docstring)."""
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for chunk in chunks:
        by_doc[str(chunk["doc_id"])].append(chunk)
    normalized = {id(c): _norm(str(c.get("text", ""))) for c in chunks}
    pairs = []
    for row in rows:
        pool = by_doc.get(row.doc_id, []) if row.doc_id else chunks
        needles = [_norm(e)[:_EVIDENCE_CHARS] for e in row.evidence if e.strip()]
        needles = needles or [_norm(a) for a in row.answers if len(a.strip()) >= 3]
        hits = [c for c in pool if any(n in normalized[id(c)] for n in needles)]
        if hits:
            pairs.append(
                _Pair(
                    row.question,
                    row.doc_id,
                    frozenset(str(c["chunk_id"]) for c in hits),
                    indexed(hits[0]),
                )
            )
    return pairs


def split(pairs: Sequence[_Pair], holdout: float, seed: int) -> tuple[list[_Pair], list[_Pair]]:
    """(train, held out): a seeded shuffle, `holdout` of the pairs held out (at least one)."""
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    held = max(1, math.ceil(len(shuffled) * holdout))
    return shuffled[held:], shuffled[:held]


def _where(domain: str, pair: _Pair, scope: Scope) -> Where | None:
    return build_where(domain=domain, doc_id=pair.doc_id if scope == "doc_id" else None)


def hard_negatives(
    retriever: Retriever,
    pairs: Sequence[_Pair],
    domain: str,
    options: TuneOptions,
    indexed: Callable[[dict[str, Any]], str],
) -> list[list[str]]:
    """Per pair, what was indexed for the top dense results that are not its positives."""
    search = SearchOptions(top_k=10, mode="dense", merge_adjacent=False, lead_chunk=False)
    found = retriever.search_many(
        [(p.question, _where(domain, p, options.scope), search) for p in pairs]
    )
    negatives = []
    for pair, retrieval in zip(pairs, found, strict=True):
        texts = [
            indexed({**s.metadata, "text": s.text})
            for s in retrieval.sources
            if s.chunk_id not in pair.positives
        ]
        negatives.append(texts[: options.negatives])
    return negatives


def train(
    base: SentenceTransformerEmbedder,
    triples: Sequence[tuple[str, str, list[str]]],
    options: TuneOptions,
    out: Path,
    progress: Progress,
) -> None:
    """Fine-tune a copy of `base`'s model on (question, positive, negatives); save to `out`."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers 6 moved the losses
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )
    except ImportError:
        from sentence_transformers.losses import (  # type: ignore[no-redef]
            MultipleNegativesRankingLoss,
        )

    torch.manual_seed(options.seed)
    model = SentenceTransformer(str(_model_path(base)), device="cpu")
    model.train()
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    order = list(range(len(triples)))
    rng = random.Random(options.seed)
    negatives = min((len(t[2]) for t in triples), default=0)
    steps, last = 0, float("nan")
    for epoch in range(options.epochs):
        rng.shuffle(order)
        for start in range(0, len(order), options.batch_size):
            batch = [triples[i] for i in order[start : start + options.batch_size]]
            if len(batch) < 2:
                continue
            columns = [[base.query_prefix + q for q, _, _ in batch]]
            columns.append([base.passage_prefix + p for _, p, _ in batch])
            for n in range(negatives):
                columns.append([base.passage_prefix + negs[n] for _, _, negs in batch])
            # `preprocess` from sentence-transformers 5.2; `tokenize` before it.
            encode = getattr(model, "preprocess", None) or model.tokenize
            features = [_to_device(encode(texts), model.device) for texts in columns]
            value = loss(features, None)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            steps, last = steps + 1, float(value.detach())
        progress(f"epoch {epoch + 1}/{options.epochs}: {steps} steps, loss {last:.3f}")
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out))


def _to_device(features: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def _model_path(embedder: SentenceTransformerEmbedder) -> str:
    from adaptrag.rag.retrieval.embedder import resolve_model_path

    return resolve_model_path(embedder.model_id)


def reindex(
    source: VectorStore,
    target: VectorStore,
    embedder: Embedder,
    sparse: SparseEncoder,
    spec: CollectionSpec,
    *,
    batch: int = 256,
) -> int:
    """Every point of `source` into `target`, re-embedded by `embedder` (ids, payloads and
    sparse vectors as they were); returns the number of points."""
    count = 0
    for payloads in _batches(source.scroll(None, None), batch):
        texts = [
            stored_indexed_text(
                p,
                spec.chunk_context,
                token_length=embedder.token_length,
                max_tokens=embedder.max_chunk_tokens,
            )
            for p in payloads
        ]
        vectors = embedder.embed_passages(embedded_texts(texts))
        target.upsert(
            [
                StoredChunk(str(p["chunk_id"]), v.tolist(), sparse.encode_passage(t), p)
                for p, v, t in zip(payloads, vectors, texts, strict=True)
            ]
        )
        count += len(payloads)
    target.optimize()
    return count


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def held_out_hits(
    retriever: Retriever, pairs: Sequence[_Pair], domain: str, options: TuneOptions
) -> list[float]:
    """1.0 per held-out pair whose evidence is in the top k of the default search, else 0."""
    search = SearchOptions(top_k=options.top_k, merge_adjacent=False, lead_chunk=False)
    found = retriever.search_many(
        [(p.question, _where(domain, p, options.scope), search) for p in pairs]
    )
    return [
        float(any(s.chunk_id in pair.positives for s in retrieval.sources))
        for pair, retrieval in zip(pairs, found, strict=True)
    ]


def next_version(settings: Settings, name: str) -> str:
    """`NAME-vN` with N one above every version of `name` there is (v2 for the first)."""
    taken = [
        int(m.group(1))
        for other in collection_names(**connection(settings))
        if other.startswith(f"{name}-v") and (m := _VERSION.search(other))
    ]
    return f"{name}-v{max([1, *taken]) + 1}"


def tune_embeddings(
    rows: Sequence[QARow],
    domain: str,
    *,
    settings: Settings,
    options: TuneOptions = TuneOptions(),
    collection: str | None = None,
    progress: Progress = lambda _: None,
) -> TuneReport:
    """Tune, re-index and decide, as the module docstring says; return what happened."""
    options.check()
    name = collection or settings.store.collection
    root = store_for(settings, name, follow=False)
    serving_name = root.serving() or name
    current = store_for(settings, name)
    spec = current.spec()
    if spec is None:
        raise CollectionNotFoundError(
            f"collection {name!r} does not exist yet; ingest the domain's documents first"
        )
    base = SentenceTransformerEmbedder.from_settings(settings)
    embedder = embedder_for(base, spec)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    sparse = SparseEncoder.matching(spec.sparse) or SparseEncoder()

    def searcher(store: VectorStore, model: Embedder) -> Retriever:
        return Retriever(
            store,
            model,
            sparse,
            fusion=Fusion.from_section(settings.retrieval),
            content_words_over=settings.retrieval.content_words_over,
        )

    retriever = searcher(current, embedder)
    retriever.check()

    def indexed(payload: dict[str, Any]) -> str:
        """What the embedding model reads of a stored chunk, as ingest and `reindex` embed it."""
        return embedded_text(
            stored_indexed_text(
                payload,
                spec.chunk_context,
                token_length=embedder.token_length,
                max_tokens=embedder.max_chunk_tokens,
            )
        )

    chunks = list(current.scroll(Where(equals={"domain": domain}), None))
    if not chunks:
        raise ConfigError(f"domain {domain!r} holds no chunks in {name!r}; ingest it first")
    version = next_version(settings, name)
    out = (settings.data_dir / "embeddings" / version).resolve()
    report = TuneReport(
        collection=name,
        domain=domain,
        serving_before=serving_name,
        version=version,
        model=str(out),
        base_model=spec.base_embedding_model or spec.embedding_model,
        rows=len(rows),
        top_k=options.top_k,
        forced=options.force,
        serving=serving_name,
    )
    pairs = find_pairs(rows, chunks, indexed)
    if len(pairs) < 20:
        raise ConfigError(
            f"only {len(pairs)} of {len(rows)} QA rows have their evidence or answer in a "
            f"chunk of domain {domain!r}; give at least 20 such rows (with 'evidence' or "
            "'answers' found in the documents, and their 'doc_id')"
        )
    train_pairs, held = split(pairs, options.holdout, options.seed)
    report.pairs, report.train, report.held_out = len(pairs), len(train_pairs), len(held)

    started = time.perf_counter()
    negatives = hard_negatives(retriever, train_pairs, domain, options, indexed)
    triples = [
        (p.question, p.positive_text, negs)
        for p, negs in zip(train_pairs, negatives, strict=True)
        if len(negs) >= options.negatives
    ]
    progress(f"training on {len(triples)} pairs, {len(held)} held out")
    train(embedder, triples, options, out, progress)
    report.train_s = round(time.perf_counter() - started, 1)

    tuned = embedder.with_model(str(out))
    new_spec = wanted_spec(
        tuned,
        sparse,
        chunk_tokens=spec.chunk_tokens,
        chunk_overlap_tokens=spec.chunk_overlap_tokens,
        dimension=tuned.dimension,
        chunk_context=spec.chunk_context,
        generated_context=spec.generated_context,
        base_embedding_model=report.base_model,
    )
    target = store_for(settings, version, follow=False)
    try:
        started = time.perf_counter()
        ensure_collection(target, new_spec, ingest=True)
        points = reindex(current, target, tuned, sparse, spec)
        report.reindex_s = round(time.perf_counter() - started, 1)
        progress(f"re-indexed {points} chunks into {version}")

        started = time.perf_counter()
        before = held_out_hits(retriever, held, domain, options)
        after = held_out_hits(searcher(target, tuned), held, domain, options)
        report.evaluate_s = round(time.perf_counter() - started, 1)
        report.hit_before = round(sum(before) / len(before), 4)
        report.hit_after = round(sum(after) / len(after), 4)
        report.difference = round(report.hit_after - report.hit_before, 4)
        verdict = promotion(before, after, seed=options.seed)
        report.ci95 = list(verdict.ci95)
        report.promoted = verdict.promoted or options.force
        if report.promoted:
            root.set_serving(version)
            report.serving = version
    finally:
        current.close()
        target.close()
        root.close()
        if not report.promoted:  # refused, or failed on the way: nothing of it stays
            store_for(settings, version, follow=False).drop()
            shutil.rmtree(out, ignore_errors=True)
    return report
