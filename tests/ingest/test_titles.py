"""Chunks indexed in their document's context (issue 13): what is embedded and keyword-
indexed starts with the title, file name and heading path; what is stored stays the chunk."""

from __future__ import annotations

import json
from pathlib import Path

from adaptrag.ingest import ingest_paths
from adaptrag.ingest.titles import context_line, embedded_text, indexed_text
from adaptrag.rag import Pipeline, Query
from adaptrag.rag.retrieval.collection_info import wanted_spec
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.sparse import V1, SparseConfig, SparseEncoder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import ensure_collection, store_for
from adaptrag.rag.types import Chunk, Document

POLICY = (
    "Cash above the operating buffer is swept daily into the money market fund. Counterparty "
    "limits are reviewed quarterly by the committee.\n"
)


def write_policies(root: Path) -> Path:
    """Two companies' treasury policies whose text is the same: only the title (a record
    field, as for filings) tells them apart."""
    root.mkdir()
    records = [
        {
            "doc_id": f"{company.lower()}-policy",
            "title": f"{company} Treasury Policy",
            "text": POLICY,
        }
        for company in ("Rosslyn", "Halden")
    ]
    (root / "policies.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


def test_the_context_line_has_title_file_and_headings_once() -> None:
    document = Document("p.md", "x", "Rosslyn Treasury Policy", "/data/p.md", {"format": "md"})
    chunk = Chunk("p.md", 0, "text", {"headings": ["Rosslyn Treasury Policy", "Cash"]})
    assert context_line(document, chunk) == "Rosslyn Treasury Policy | p.md | Cash"
    record = Document("r1", "x", "Refunds", "/data/all.jsonl", {"format": "jsonl"})
    assert context_line(record, Chunk("r1", 0, "text")) == "Refunds"  # no shared file name
    # A document titled by its file's name (no title of its own) says the name once.
    untitled = Document("AAPL_10K.pdf", "x", "AAPL_10K", "/data/AAPL_10K.pdf", {"format": "pdf"})
    statement = Chunk("AAPL_10K.pdf", 3, "text", {"headings": ["Item 8.", "BALANCE SHEETS"]})
    assert context_line(untitled, statement) == "AAPL_10K | Item 8. > BALANCE SHEETS"


def test_table_rows_are_embedded_by_their_labels_and_keep_their_figures_elsewhere() -> None:
    indexed = (
        "Acme 10-K | CASH FLOWS\n\nInvesting activities:\n"
        "Payments for property, plant and equipment | (11,247) | $(9,571) | 12.5% | \u2014\n"
        "2015 | 2014 | 2013\nThe figures | are | audited."
    )
    assert embedded_text(indexed).split("\n") == [
        "Acme 10-K | CASH FLOWS",  # a title line's parts are words, not figures
        "",
        "Investing activities:",
        "Payments for property, plant and equipment",
        "",
        "The figures | are | audited.",
    ]
    assert (
        embedded_text("Prose without cells, 11,247 units.") == "Prose without cells, 11,247 units."
    )


def test_the_context_is_cut_so_the_chunk_is_never_truncated(
    embedder: SentenceTransformerEmbedder,
) -> None:
    limit = embedder.max_chunk_tokens
    text = "word " * (limit - 10)
    chunk = Chunk("d", 0, text.strip())
    document = Document("d", text, "A very long title " * 40, "/data/d.txt", {"format": "txt"})
    indexed = indexed_text(
        document, chunk, "title", token_length=embedder.token_length, max_tokens=limit
    )
    assert indexed.endswith(chunk.text) and indexed != chunk.text
    assert embedder.token_length(indexed) <= limit
    assert (
        indexed_text(document, chunk, "none", token_length=embedder.token_length, max_tokens=limit)
        == chunk.text
    )


def test_a_question_naming_the_document_finds_it_though_its_text_does_not(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    ingest_paths(
        [write_policies(tmp_path / "docs")], "finance", settings=settings, embedder=embedder
    )
    with Pipeline(settings, embedder=embedder) as qa:
        for mode in ("hybrid", "dense", "sparse"):
            found = qa.retrieve("Rosslyn's cash sweep policy", mode=mode, top_k=2)
            assert found[0].doc_id == "rosslyn-policy", mode
            assert found[0].text == POLICY.strip()  # the stored text: the chunk alone
        assert qa.retriever.check().chunk_context == "title"


def test_a_collection_keeps_the_indexing_it_was_created_with(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    # A collection of an older adaptrag: no chunk context, word-only sparse tokens.
    store = store_for(settings)
    old = wanted_spec(
        embedder,
        SparseEncoder(SparseConfig(version=V1)),
        chunk_tokens=settings.ingest.chunk_tokens,
        chunk_overlap_tokens=settings.ingest.chunk_overlap_tokens,
        dimension=embedder.dimension,
    )
    ensure_collection(store, old, ingest=True)
    store.close()
    docs = write_policies(tmp_path / "docs")
    report = ingest_paths([docs], "finance", settings=settings, embedder=embedder)
    assert report.added == 2 and not report.failed  # no mismatch error after an upgrade
    with Pipeline(settings, embedder=embedder) as qa:
        spec = qa.retriever.check()
        assert (spec.chunk_context, spec.sparse["version"]) == ("none", V1)
        assert qa.retriever.sparse.config.version == V1  # queries encoded the old way
        assert len(qa.retrieve("cash sweep", mode="sparse", top_k=2)) == 2


def test_a_search_within_one_document_keeps_its_lead_chunk(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    docs = tmp_path / "contracts"
    docs.mkdir()
    # Twenty sections on different topics (no two chunks alike).
    topics = [
        "pricing",
        "shipping",
        "warranty",
        "audit",
        "insurance",
        "payment",
        "delivery",
        "returns",
        "liability",
        "confidentiality",
        "termination",
        "renewal",
        "exclusivity",
        "forecasts",
        "quality",
        "packaging",
        "labelling",
        "recalls",
        "training",
        "reporting",
    ]
    sections = "".join(
        f"## Section {n}\n\nClause {n} sets the {topic} terms for the products in detail.\n\n"
        for n, topic in enumerate(topics)
    )
    (docs / "supply.md").write_text(
        "# Supply Agreement\n\nThis agreement is made on 1 March 2011 between Acme Ltd and "
        f"Borealis GmbH.\n\n{sections}"
    )
    ingest_paths([docs], "legal", settings=settings, embedder=embedder)
    with Pipeline(settings, embedder=embedder) as qa:
        question = "What are the warranty terms?"
        # Dense scores (cosine) do not tie, so two searches order their results alike;
        # RRF ranks can tie (ranks 1+3 and 3+1), and ties come back in either order.
        query = Query(question, doc_id="supply.md", top_k=3, merge_adjacent=False, mode="dense")
        plain = qa.retrieve(query, lead_chunk=False)
        assert all(s.metadata["chunk_index"] != 0 for s in plain)
        kept = qa.retrieve(query)
        assert len(kept) == 3 and kept[-1].metadata["chunk_index"] == 0
        assert "Acme Ltd" in kept[-1].text and kept[:2] == plain[:2]
        # Not scoped to one document: the option changes nothing.
        anywhere = Query(question, top_k=3, mode="dense")
        assert qa.retrieve(anywhere) == qa.retrieve(anywhere, lead_chunk=False)
