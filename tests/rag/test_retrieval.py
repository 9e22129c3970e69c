"""Retrieval over the real Edge store with the real MiniLM model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptrag.ingest import ingest_paths
from adaptrag.rag.errors import CollectionNotFoundError, ConfigError, EmbeddingMismatchError
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.retriever import (
    Retriever,
    SearchOptions,
    build_where,
    merge_adjacent,
    top_passages,
)
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import Where, connection, open_store
from adaptrag.rag.types import Source


@pytest.fixture
def retriever(
    corpus: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> Iterator[Retriever]:
    store = open_store(settings.store.collection, **connection(settings))
    ingest_paths([corpus], "legal", settings=settings, embedder=embedder, store=store)
    (corpus.parent / "fin").mkdir()
    (corpus.parent / "fin" / "credit.md").write_text(
        "# Credit policy\n\nLoans above two million need approval by the credit committee.\n"
    )
    ingest_paths(
        [corpus.parent / "fin"], "finance", settings=settings, embedder=embedder, store=store
    )
    yield Retriever(store, embedder)
    store.close()


def top(
    retriever: Retriever, question: str, where: Where | None = None, **options: object
) -> list[Source]:
    return retriever.search(question, where, SearchOptions().override(**options)).sources


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_each_mode_finds_the_document_that_answers(retriever: Retriever, mode: str) -> None:
    sources = top(retriever, "How many days notice does the tenant give?", mode=mode, top_k=3)
    assert sources[0].doc_id == "lease.md"
    assert sources[0].metadata["domain"] == "legal"
    assert sources[0].metadata["source"].endswith("lease.md")


def test_hybrid_finds_an_exact_keyword_that_dense_ranks_lower(retriever: Retriever) -> None:
    # "committee" is a rare exact term: BM25 nails it, and fusion keeps it on top.
    sources = top(retriever, "committee", mode="hybrid", top_k=1)
    assert sources[0].doc_id == "credit.md"


def test_domain_filter_is_applied_inside_the_store(retriever: Retriever) -> None:
    sources = top(retriever, "approval of loans", build_where(domain="legal"), top_k=10)
    assert sources and {s.metadata["domain"] for s in sources} == {"legal"}
    assert "credit.md" not in {s.doc_id for s in sources}


def test_doc_id_and_payload_filters(retriever: Retriever) -> None:
    assert {s.doc_id for s in top(retriever, "anything", build_where(doc_id="r2"))} == {"r2"}
    where = build_where(filters={"title": "Refunds"})
    assert [s.doc_id for s in top(retriever, "money back", where)] == ["r1"]


def test_top_k_limits_and_score_threshold_cuts(retriever: Retriever) -> None:
    assert len(top(retriever, "policy", top_k=2, merge_adjacent=False)) == 2
    dense = top(retriever, "tenant notice", mode="dense", top_k=10)
    cut = dense[1].score
    kept = top(retriever, "tenant notice", mode="dense", top_k=10, score_threshold=cut)
    assert kept and all(s.score >= cut for s in kept) and len(kept) < len(dense)


def test_mmr_trades_relevance_for_diversity(retriever: Retriever) -> None:
    plain = top(retriever, "lease rent notice", mode="dense", top_k=3, merge_adjacent=False)
    diverse = top(
        retriever,
        "lease rent notice",
        mode="dense",
        top_k=3,
        merge_adjacent=False,
        mmr_diversity=1.0,
    )
    assert [s.doc_id for s in plain].count("lease.md") == 2
    assert len({s.doc_id for s in diverse}) == 3


def test_an_unknown_domain_is_a_clear_error_not_an_empty_answer(retriever: Retriever) -> None:
    with pytest.raises(ConfigError, match=r"domain 'legl' has no documents.*legal"):
        top(retriever, "notice", build_where(domain="legl"))


def test_empty_question_and_bad_options_are_one_line_errors(retriever: Retriever) -> None:
    with pytest.raises(ConfigError, match="empty"):
        top(retriever, "  ")
    with pytest.raises(ConfigError, match="top_k"):
        SearchOptions().override(top_k=0)
    with pytest.raises(ConfigError, match="search mode"):
        SearchOptions().override(mode="fuzzy")
    with pytest.raises(ConfigError, match="cannot filter on 'text'"):
        build_where(filters={"text": "x"})
    with pytest.raises(ConfigError, match="domain is given twice"):
        build_where(domain="legal", filters={"domain": "finance"})


def test_querying_a_missing_collection_says_to_ingest_first(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    store = open_store("nothing-here", **connection(settings))
    with pytest.raises(CollectionNotFoundError, match="ingest documents first"):
        Retriever(store, embedder).search("q", None, SearchOptions())


def test_querying_with_another_embedding_model_is_refused(retriever: Retriever) -> None:
    other = SentenceTransformerEmbedder(query_prefix="query: ")
    with pytest.raises(EmbeddingMismatchError, match="query_prefix"):
        Retriever(retriever.store, other).search("q", None, SearchOptions())


def chunk(index: int, text: str, score: float, doc: str = "d") -> Source:
    return Source(doc, f"{doc}-{index}", text, score, {"chunk_index": index})


def test_adjacent_chunks_merge_without_their_overlap_and_keep_the_best_rank() -> None:
    shared = "the overlap shared by both chunks"
    first = chunk(0, f"Opening words, then {shared}", 0.5)
    second = chunk(1, f"{shared} and the end.", 0.9)
    other = chunk(3, "Far away.", 0.7)
    elsewhere = chunk(1, "Another document.", 0.8, doc="e")

    merged = merge_adjacent([second, elsewhere, other, first])

    assert [s.chunk_id for s in merged] == ["d-0", "e-1", "d-3"]
    assert merged[0].text == f"Opening words, then {shared} and the end."
    assert merged[0].score == 0.9
    assert merged[0].metadata["chunk_ids"] == ["d-0", "d-1"]


def test_neighbours_without_overlap_are_joined_by_a_line_break() -> None:
    merged = merge_adjacent([chunk(0, "One.", 1.0), chunk(1, "Two.", 0.5)])
    assert [s.text for s in merged] == ["One.\nTwo."]


def test_top_passages_count_merged_neighbours_as_one() -> None:
    ranked = [chunk(4, "a", 0.9), chunk(5, "b", 0.8), chunk(9, "c", 0.7), chunk(1, "x", 0.6, "e")]
    assert [s.chunk_id for s in top_passages(ranked, 2)] == ["d-4", "d-5", "d-9"]
    assert [s.chunk_id for s in top_passages(ranked, 3)] == ["d-4", "d-5", "d-9", "e-1"]
    assert top_passages(ranked, 0) == []
    # A chunk that would start passage n + 1 ends the list, even if a later one would join.
    assert [s.chunk_id for s in top_passages([*ranked[:1], ranked[2], ranked[1]], 1)] == ["d-4"]


def test_filling_after_a_merge_returns_top_k_passages(
    corpus: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """Four neighbouring clauses match: merged, they are one passage; filling brings three
    more passages, and keeps every chunk the plain search returned."""
    store = open_store(settings.store.collection, **connection(settings))
    clauses = "\n\n".join(f"## Clause {n}\n\nClause {n} binds the tenant." for n in range(40))
    (corpus / "long.md").write_text(f"# Long lease\n\n{clauses}\n")
    small = settings.replaced(**{"chunk_tokens": 16, "chunk_overlap_tokens": 0})
    ingest_paths([corpus], "legal", settings=small, embedder=embedder, store=store)
    question = "clause 17 clause 18 clause 19 clause 20"
    options = SearchOptions().override(top_k=4, mode="sparse", lead_chunk=False)
    where = build_where(doc_id="long.md")
    try:
        plain = Retriever(store, embedder).search(question, where, options).sources
        filler = Retriever(store, embedder, fill_after_merge=True)
        filled = filler.search(question, where, options).sources
    finally:
        store.close()

    def ids(sources: list[Source]) -> set[str]:
        return {i for s in sources for i in s.metadata.get("chunk_ids", [s.chunk_id])}

    assert len(plain) == 1 and len(ids(plain)) == 4  # the four clauses, merged
    assert len(filled) == 4 and ids(plain) <= ids(filled)
