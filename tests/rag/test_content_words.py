"""Long templated questions are searched by their content words."""

from __future__ import annotations

from pathlib import Path

from adaptrag.ingest import ingest_paths
from adaptrag.rag.retrieval.content_words import content_words
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.retriever import Retriever, SearchOptions
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import connection, open_store

TEMPLATED = (
    'Highlight the parts (if any) of this contract related to "Governing Law" that should '
    "be reviewed by a lawyer. Details: Which state's law governs the interpretation of the "
    "contract?"
)


def test_a_long_templated_question_keeps_its_content_words_in_order() -> None:
    assert content_words(TEMPLATED, 20) == (
        "contract Governing Law lawyer state's law governs interpretation contract"
    )


def test_short_questions_and_the_off_switch_leave_the_question_alone() -> None:
    short = "Which state's law governs the contract?"
    assert content_words(short, 20) == short
    assert content_words(TEMPLATED, 0) == TEMPLATED
    # Nothing but instructions: searching by nothing would be worse than by everything.
    instructions = " ".join(["please highlight the relevant parts of the document"] * 4)
    assert content_words(instructions, 5) == instructions


def test_the_retriever_searches_by_the_content_words(
    tmp_path: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """A decoy made of the template's words outranks the governing-law clause when the
    whole question is the keyword query, and not when its content words are."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "decoy.md").write_text(
        "Highlight the parts of this contract that should be reviewed by a lawyer. Details "
        "related to any parts to highlight and review are listed in the details schedule."
    )
    (folder / "law.md").write_text(
        "This Agreement is governed by the law of the State of Delaware, which governs its "
        "interpretation."
    )
    store = open_store(settings.store.collection, **connection(settings))
    try:
        ingest_paths([folder], "legal", settings=settings, embedder=embedder, store=store)
        options = SearchOptions(top_k=1, mode="sparse")
        whole = Retriever(store, embedder, content_words_over=0).search(TEMPLATED, None, options)
        condensed = Retriever(store, embedder, content_words_over=20).search(
            TEMPLATED, None, options
        )
    finally:
        store.close()
    assert whole.sources[0].doc_id == "decoy.md"
    assert condensed.sources[0].doc_id == "law.md"
