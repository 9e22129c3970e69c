"""Retrieval: a question into ranked sources, filtered inside the store.

`Retriever.search` embeds the question (dense and sparse), asks the store for a hybrid,
dense or sparse search with the caller's filters, and merges neighbouring chunks of one
document into one source. It checks once that the collection exists and was built by the
embedder in use, so a query never compares vectors of two different models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, get_args

from adaptrag.rag.errors import CollectionNotFoundError, ConfigError
from adaptrag.rag.infra.load_timing import Stopwatch
from adaptrag.rag.infra.tracing import set_attributes, span
from adaptrag.rag.retrieval.collection_info import embedder_for, wanted_spec
from adaptrag.rag.retrieval.content_words import content_words
from adaptrag.rag.retrieval.embedder import Embedder
from adaptrag.rag.retrieval.filters import Filters, where_of
from adaptrag.rag.retrieval.reranker import Reranker
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.stores.base import (
    CollectionSpec,
    FusionMethod,
    SearchMode,
    SearchRequest,
    VectorStore,
    Where,
)
from adaptrag.rag.types import Source

if TYPE_CHECKING:
    from adaptrag.rag.settings.sections import RetrievalSettings

_MIN_OVERLAP_CHARS = 16  # shorter repeats between neighbours are coincidence, not overlap
FILL_CANDIDATES = 3  # with fill_after_merge: candidates fetched per passage asked for


@dataclass(frozen=True)
class SearchOptions:
    """How to search: how many chunks, which mode, threshold, diversity, merging."""

    top_k: int = 5
    mode: SearchMode = "hybrid"
    score_threshold: float | None = None
    mmr_diversity: float | None = None
    merge_adjacent: bool = True
    lead_chunk: bool = True

    @classmethod
    def from_section(cls, section: RetrievalSettings) -> SearchOptions:
        """The defaults a deployment configured (the `retrieval` settings section)."""
        return cls(
            top_k=section.top_k,
            mode=section.search_mode,
            score_threshold=section.score_threshold,
            mmr_diversity=section.mmr_diversity,
            merge_adjacent=section.merge_adjacent,
            lead_chunk=section.lead_chunk,
        )

    def override(self, **changes: Any) -> SearchOptions:
        """These options with the given values (None leaves a field as it is), validated."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown search option(s) {sorted(unknown)}; use {sorted(known)}")
        options = replace(self, **{k: v for k, v in changes.items() if v is not None})
        if not 1 <= options.top_k <= 100:
            raise ConfigError(f"top_k must be between 1 and 100, not {options.top_k}")
        if options.mode not in get_args(SearchMode):
            raise ConfigError(
                f"unknown search mode {options.mode!r}; use one of {get_args(SearchMode)}"
            )
        if options.mmr_diversity is not None and not 0.0 <= options.mmr_diversity <= 1.0:
            raise ConfigError(f"mmr_diversity must be in [0, 1], not {options.mmr_diversity}")
        return options


def build_where(
    domain: str | None = None, doc_id: str | None = None, filters: Filters | None = None
) -> Where | None:
    """The store filter for a domain, a document and any payload conditions
    (`adaptrag.rag.retrieval.filters`: values, lists, ranges, negation, exists)."""
    return where_of(filters, domain=domain, doc_id=doc_id)


@dataclass(frozen=True)
class Fusion:
    """How a hybrid search fuses dense and sparse results (see `SearchRequest`)."""

    method: FusionMethod = "dbsf"
    dense_weight: float = 1.0
    prefetch_limit: int = 50

    @classmethod
    def from_section(cls, section: RetrievalSettings) -> Fusion:
        """The fusion a deployment configured (the `retrieval` settings section)."""
        return cls(section.fusion, section.dense_weight, section.prefetch_limit)


@dataclass(frozen=True)
class Retrieval:
    """The sources found for one question, and what finding them cost."""

    sources: list[Source]
    embed_ms: float
    search_ms: float
    rerank_ms: float = 0.0


class Retriever:
    """Hybrid, dense or sparse search over one collection, with one embedder."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder | None = None,
        reranker: Reranker | None = None,
        rerank_candidates: int = 20,
        fusion: Fusion | None = None,
        content_words_over: int = 20,
        fill_after_merge: bool = False,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse or SparseEncoder()
        self.reranker = reranker
        self.rerank_candidates = rerank_candidates
        self.fusion = fusion or Fusion()
        self.content_words_over = content_words_over
        self.fill_after_merge = fill_after_merge
        self._spec: CollectionSpec | None = None

    def check(self) -> CollectionSpec:
        """The collection's record, once it is known to exist and to match the embedder."""
        if self._spec is None:
            spec = self.store.spec()
            if spec is None:
                raise CollectionNotFoundError(
                    f"collection {self.store.name!r} does not exist yet; ingest documents "
                    "first, into a domain=..."
                )
            # Queries are encoded as the collection's chunks were (older versions included).
            self.sparse = SparseEncoder.matching(spec.sparse) or self.sparse
            self.embedder = embedder_for(self.embedder, spec)
            wanted = wanted_spec(
                self.embedder,
                self.sparse,
                chunk_tokens=spec.chunk_tokens,
                chunk_overlap_tokens=spec.chunk_overlap_tokens,
                dimension=self.embedder.dimension,
                chunk_context=spec.chunk_context,
                generated_context=spec.generated_context,
            )
            spec.check_compatible(wanted, self.store.name, ingest=False)
            self._spec = spec
        return self._spec

    def search(self, question: str, where: Where | None, options: SearchOptions) -> Retrieval:
        """The best sources for `question`, best first."""
        return self.search_many([(question, where, options)])[0]

    def search_many(
        self, searches: Sequence[tuple[str, Where | None, SearchOptions]]
    ) -> list[Retrieval]:
        """`search` for many (question, filter, options); embeddings computed in one batch."""
        questions = [question for question, _, _ in searches]
        for question in questions:
            if not question.strip():
                raise ConfigError("the question is empty; ask something")
        if not searches:
            return []
        self.check()
        watch = Stopwatch()
        with span("adaptrag.embed", questions=len(questions), model=self.embedder.model_id):
            searched = [content_words(q, self.content_words_over) for q in questions]
            dense = self.embedder.embed_queries(searched)
            sparse = [self.sparse.encode_query(q) for q in searched]
        embed_ms = watch.ms() / len(questions)
        results = []
        for row, sparse_vector, (question, where, options) in zip(
            dense, sparse, searches, strict=True
        ):
            watch = Stopwatch()
            # With a reranker, fetch more candidates for it to order; keep the best top_k.
            # Filling after merging takes more candidates than top_k too (merged neighbours
            # count as one passage).
            fill = self.fill_after_merge and options.merge_adjacent
            limit = max(
                options.top_k * (FILL_CANDIDATES if fill else 1),
                self.rerank_candidates if self.reranker else 0,
            )
            request = SearchRequest(
                dense=row.tolist(),
                sparse=sparse_vector,
                mode=options.mode,
                where=where,
                limit=limit,
                score_threshold=options.score_threshold,
                prefetch_limit=max(self.fusion.prefetch_limit, options.top_k * 4),
                mmr_diversity=options.mmr_diversity,
                fusion=self.fusion.method,
                dense_weight=self.fusion.dense_weight,
            )
            with span(
                "adaptrag.search", mode=options.mode, limit=limit, fusion=self.fusion.method
            ) as current:
                found = self.store.search(request)
                set_attributes(current, results=len(found))
            search_ms = watch.ms()
            if not found:
                self._explain_empty(where)
            rerank_ms = 0.0
            if self.reranker is not None and found:
                watch = Stopwatch()
                with span("adaptrag.rerank", candidates=len(found)):
                    found = self.reranker.rerank(question, found)
                rerank_ms = watch.ms()
            if fill:
                found = self._fill(found, request, options.top_k, lead=options.lead_chunk)
            else:
                found = found[: options.top_k]
                if options.lead_chunk:
                    found = self._with_lead_chunk(found, replace(request, limit=options.top_k))
            if options.merge_adjacent:
                found = merge_adjacent(found)
            results.append(Retrieval(found, embed_ms, search_ms, rerank_ms))
        return results

    def _fill(
        self, found: list[Source], request: SearchRequest, top_k: int, *, lead: bool
    ) -> list[Source]:
        """The chunks of the best `top_k` passages (the lead chunk last when it is missed)."""
        chosen = top_passages(found, top_k)
        if lead and chosen:
            with_lead = self._with_lead_chunk(chosen, replace(request, limit=len(chosen) + 1))
            if len(with_lead) > len(chosen):  # the lead was missing: it takes the last place
                return [*top_passages(found, top_k - 1), with_lead[-1]]
        return chosen

    def _with_lead_chunk(self, found: list[Source], request: SearchRequest) -> list[Source]:
        """For a search within one document: its lead chunk (title, parties, dates) as the
        last of the results when the search did not find it (it is where "which agreement,
        between whom, from when" is answered, and shares few words with such questions)."""
        doc_id = request.where.equals.get("doc_id") if request.where else None
        if not isinstance(doc_id, str) or not found:
            return found
        if any(s.metadata.get("chunk_index") == 0 for s in found):
            return found
        equals = {**request.where.equals, "chunk_index": 0}  # type: ignore[union-attr]
        lead = self.store.search(replace(request, where=Where(equals=equals), limit=1))
        return [*found[: request.limit - 1], *lead] if lead else found

    def _explain_empty(self, where: Where | None) -> None:
        """A domain that holds nothing is almost always a typo: say so instead of 'no answer'."""
        domain = where.equals.get("domain") if where else None
        if not isinstance(domain, str):
            return
        domains = self.store.facet("domain")
        if domain not in domains:
            known = ", ".join(sorted(domains)) or "none yet"
            raise ConfigError(
                f"domain {domain!r} has no documents in collection {self.store.name!r} "
                f"(domains: {known}); give one of those as domain=, or ingest into it"
            )


def top_passages(candidates: Sequence[Source], n: int) -> list[Source]:
    """The best-ranked chunks that make at most `n` passages (runs of neighbouring chunks of
    one document, as `merge_adjacent` joins them): a chunk next to one already taken joins
    its passage; the first that would start passage n + 1 ends the list."""
    chosen: list[Source] = []
    for source in candidates:
        if n <= 0 or len(merge_adjacent([*chosen, source])) > n:
            break
        chosen.append(source)
    return chosen


def merge_adjacent(sources: Sequence[Source]) -> list[Source]:
    """Merge runs of consecutive chunks of one document into one source, overlap removed.

    A merged source keeps its best score and takes the rank of its best-ranked chunk; its
    `chunk_id` is the first chunk's and `metadata["chunk_ids"]` lists them all; when its
    chunks are on several pages, `metadata["page_starts"]` says where each page's text
    starts (`Source.pages`, `Source.page_at`).
    """
    rank = {id(s): n for n, s in enumerate(sources)}
    by_doc: dict[str, list[Source]] = {}
    for source in sources:
        by_doc.setdefault(source.doc_id, []).append(source)
    merged: list[tuple[int, Source]] = []
    for chunks in by_doc.values():
        chunks.sort(key=lambda s: int(s.metadata.get("chunk_index", -1)))
        run = [chunks[0]]
        for chunk in chunks[1:]:
            previous = int(run[-1].metadata.get("chunk_index", -10))
            if int(chunk.metadata.get("chunk_index", -10)) == previous + 1:
                run.append(chunk)
            else:
                merged.append(_merge(run, rank))
                run = [chunk]
        merged.append(_merge(run, rank))
    return [source for _, source in sorted(merged, key=lambda pair: pair[0])]


def _merge(run: list[Source], rank: Mapping[int, int]) -> tuple[int, Source]:
    best = min(rank[id(s)] for s in run)
    if len(run) == 1:
        return best, run[0]
    text = run[0].text
    # Where each page's text starts in the merged text (a chunk never spans two pages), so
    # a citation can name the page that holds the words it quotes.
    page_starts = [[0, run[0].page]] if run[0].page is not None else []
    boxes = run[0].boxes
    for chunk in run[1:]:
        text = _join(text, chunk.text)
        start = max(0, len(text) - len(chunk.text))
        if chunk.page is not None and (not page_starts or page_starts[-1][1] != chunk.page):
            page_starts.append([start, chunk.page])
        # The text both chunks hold keeps the earlier chunk's boxes.
        boxes = [b for b in boxes if b[0] < start]
        boxes += [[offset + start, *rest] for offset, *rest in chunk.boxes]
    metadata = {
        **run[0].metadata,
        "chunk_ids": [s.chunk_id for s in run],
        "chunk_indexes": [s.metadata.get("chunk_index") for s in run],
    }
    if len(page_starts) > 1:
        metadata["page_starts"] = page_starts
    if boxes:
        metadata["boxes"] = boxes
    source = Source(
        doc_id=run[0].doc_id,
        chunk_id=run[0].chunk_id,
        text=text,
        score=max(s.score for s in run),
        metadata=metadata,
    )
    return best, source


def _join(first: str, second: str) -> str:
    """`first` then `second`, without the text they share at the seam."""
    for size in range(min(len(first), len(second)), _MIN_OVERLAP_CHARS - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return f"{first}\n{second}"
