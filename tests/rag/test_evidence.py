"""Evidence: which sentences of the sources an extractive answer may copy from."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from helpers.corpora import pipeline_over

from adaptrag.rag import Pipeline
from adaptrag.rag.answering.evidence import (
    SENTENCES_KEPT,
    embedding_similarity,
    rank_sentences,
    sentences,
    with_evidence,
)
from adaptrag.rag.generators.local import Decoding, LocalGenerator
from adaptrag.rag.prompts import build_prompt
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

CONTRACT = Source(
    "employment-moser.docx",
    "c1",
    "# Employment contract: Olga Moser, Meridian\n## Pay and leave\n"
    "Meridian employs Olga Moser as Legal Counsel. The gross annual salary is EUR 72,000.\n"
    "A non-compete obligation applies for six (6) months after\nemployment ends.",
    1.0,
    {"title": "Employment contract: Olga Moser, Meridian"},
)
OTHER = Source(
    "employment-eklund.docx",
    "c2",
    "A non-compete obligation applies for three (3) months after employment ends.",
    0.8,
    {"title": "Employment contract: Per Eklund, Dunmore"},
)


def test_sentences_leave_out_headings_and_join_lines_broken_inside_a_sentence() -> None:
    assert sentences(CONTRACT.text) == [
        "Meridian employs Olga Moser as Legal Counsel.",
        "The gross annual salary is EUR 72,000.",
        "A non-compete obligation applies for six (6) months after employment ends.",
    ]


def test_words_naming_the_document_do_not_choose_the_sentence() -> None:
    ranked = rank_sentences("How long is Olga Moser's non-compete obligation?", [CONTRACT])
    assert ranked[0].text.startswith("A non-compete obligation applies for six")
    assert "Olga Moser as Legal Counsel" not in ranked[0].text


def test_a_sentence_of_a_better_ranked_source_wins_a_tie() -> None:
    ranked = rank_sentences("How long is the non-compete obligation?", [CONTRACT, OTHER])
    assert ranked[0].source == 0 and "six (6) months" in ranked[0].text
    assert ranked[1].source == 1


def test_evidence_bounds_the_answer_not_what_the_model_reads() -> None:
    prompt = build_prompt("How long is Olga Moser's non-compete obligation?", [CONTRACT, OTHER])
    bounded = with_evidence(prompt)
    assert (bounded.system, bounded.user, bounded.sources) == (
        prompt.system,
        prompt.user,
        prompt.sources,
    )
    assert 0 < len(bounded.evidence) <= SENTENCES_KEPT
    assert bounded.evidence[0] == (0, sentences(CONTRACT.text)[2])
    # All from the best sentence's document: never the neighbouring contract's clause.
    assert {number for number, _ in bounded.evidence} == {0}


def test_the_embedding_model_finds_a_sentence_that_shares_no_word(
    embedder: SentenceTransformerEmbedder,
) -> None:
    leaflet = Source(
        "leaflet.md",
        "c",
        "Take one tablet daily. Avoid grapefruit juice while taking Ixaprone. "
        "The first dose is given within four hours.",
        1.0,
        {"title": "Patient leaflet: Ixaprone"},
    )
    question = "What must patients on Ixaprone stay away from?"
    by_words = rank_sentences(question, [leaflet])
    by_meaning = rank_sentences(question, [leaflet], embedding_similarity(embedder))
    assert by_words == []  # no sentence holds a word of the question but the drug's name
    assert "grapefruit" in by_meaning[0].text


@pytest.fixture(scope="module")
def extractive_qa(
    indexed_corpus: Settings, embedder: SentenceTransformerEmbedder, local_generator: LocalGenerator
) -> Iterator[Pipeline]:
    model = copy.copy(local_generator)
    model.decoding = Decoding(stop_at_paragraph=True, extractive=True)
    with pipeline_over(
        indexed_corpus, embedder, model, max_new_tokens=24, backend="local", decoding="extractive"
    ) as pipeline:
        yield pipeline


def test_a_pipeline_answer_is_copied_from_its_evidence_and_cited(extractive_qa: Pipeline) -> None:
    answer = extractive_qa.ask("How much notice does the tenant give?", domain="legal")
    assert answer.citations and answer.citations[0].valid
    cited = answer.sources[answer.citations[0].marker - 1]
    span = answer.text.rsplit(" [", 1)[0]
    assert " ".join(span.lower().split()) in " ".join(cited.text.lower().split())
    assert answer.grounding is not None and answer.grounding.supported is not False


def test_a_plain_text_heading_is_not_evidence_but_names_the_document() -> None:
    from adaptrag.rag.answering.evidence import is_heading, sentences

    text = (
        "MUTUAL NON-DISCLOSURE AGREEMENT\n\nLaw and signature\n\n"
        "This agreement is governed by the laws of Zurich.\n\nTotal | 12\n\nSection 5"
    )
    assert sentences(text) == [
        "This agreement is governed by the laws of Zurich.",
        "Total | 12",
        "Section 5",
    ]
    assert is_heading("Law and signature") and not is_heading("Revenue rose 12% in 2025")
