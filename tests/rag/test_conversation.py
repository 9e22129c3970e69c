"""Conversations: a follow-up is searched with the words of the turns it refers back to."""

from __future__ import annotations

from adaptrag.rag import Pipeline
from adaptrag.rag.answering.query import Query
from adaptrag.rag.retrieval.conversation import refers_back, search_text

HISTORY = [("user", "What does the warranty cover?"), ("assistant", "Two years [1].")]


def test_a_follow_up_that_refers_back_is_searched_with_the_earlier_questions() -> None:
    assert refers_back("How many vacation days does she get?")
    assert refers_back("And the notice period?")
    assert refers_back("What is the monthly fee?")  # names nothing of its own
    assert not refers_back("What is the rent under the Orbit lease?")
    assert search_text("How long does it last?", HISTORY) == (
        "How long does it last? What does the warranty cover?"
    )
    # Answers lend nothing, a standalone question is searched as written, and only the
    # last two user turns are kept.
    assert search_text("What is the rent under the Orbit lease?", HISTORY) == (
        "What is the rent under the Orbit lease?"
    )
    long = [("user", f"Question {n} about Orbit?") for n in range(5)]
    assert search_text("And its rent?", long) == (
        "And its rent? Question 3 about Orbit? Question 4 about Orbit?"
    )
    assert search_text("And its rent?", []) == "And its rent?"


def test_the_pipeline_searches_a_follow_up_with_its_history(qa: Pipeline) -> None:
    alone = qa.retrieve("How long does it last?", domain="legal", top_k=1)
    followed = qa.retrieve(
        Query("How long does it last?", domain="legal", top_k=1, history=HISTORY)
    )
    assert followed[0].doc_id == "r2"  # the warranty record
    assert alone[0].doc_id != "r2"


def test_an_answer_to_a_follow_up_comes_from_the_document_of_the_conversation(
    qa: Pipeline,
) -> None:
    answer = qa.ask("How long does it last?", domain="legal", top_k=1, history=HISTORY)
    assert answer.sources[0].doc_id == "r2"
