"""LangChain integration, exercised through LangChain's own interfaces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessageChunk
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from adaptrag.langchain import as_retriever, as_runnable
from adaptrag.rag import Answer, AsyncPipeline, Pipeline
from adaptrag.rag.errors import ConfigError


@pytest.fixture(scope="module")
def qa(local_qa: Pipeline) -> Pipeline:
    return local_qa


def test_as_retriever_is_a_langchain_retriever_returning_documents(qa: Pipeline) -> None:
    retriever = as_retriever(qa, domain="legal", top_k=2)
    assert isinstance(retriever, BaseRetriever)

    documents = retriever.invoke("How much notice does the tenant give?")

    assert all(isinstance(d, Document) for d in documents) and 0 < len(documents) <= 2
    first = documents[0]
    assert "ninety days notice" in first.page_content
    assert first.metadata["doc_id"] == "lease.md" and first.metadata["domain"] == "legal"
    assert first.metadata["score"] > 0 and first.id == first.metadata["chunk_id"]


def test_retriever_composes_in_a_chain(qa: Pipeline) -> None:
    chain = as_retriever(qa, top_k=1) | RunnableLambda(lambda docs: docs[0].metadata["doc_id"])
    assert chain.invoke("When are refunds paid?") == "r1"
    assert chain.batch(["When are refunds paid?", "confidentiality years"]) == ["r1", "nda.txt"]


def test_as_runnable_maps_a_question_to_an_answer(qa: Pipeline) -> None:
    runnable = as_runnable(qa, domain="legal")
    assert isinstance(runnable, Runnable)

    answer = runnable.invoke("How much notice does the tenant give?")
    assert isinstance(answer, Answer) and answer.sources[0].doc_id == "lease.md"

    from_dict = runnable.invoke({"question": "When are refunds paid?", "top_k": 1})
    assert [s.doc_id for s in from_dict.sources] == ["r1"]


def test_runnable_batch_answers_like_invoke_and_chains(qa: Pipeline) -> None:
    runnable = as_runnable(qa)
    questions = ["How much notice does the tenant give?", "When are refunds paid?"]

    batched = runnable.batch(questions)

    assert [a.text for a in batched] == [runnable.invoke(q).text for q in questions]
    chain = {"question": RunnablePassthrough()} | runnable | RunnableLambda(lambda a: a.backend)
    assert chain.invoke(questions[0]) == "local"


def test_runnable_rejects_inputs_it_cannot_read(qa: Pipeline) -> None:
    with pytest.raises(ValueError, match="question string"):
        as_runnable(qa).invoke(42)


def test_the_message_runnable_streams_text_into_a_str_parser(qa: Pipeline) -> None:
    from langchain_core.output_parsers import StrOutputParser

    question = "How much notice does the tenant give?"
    expected = qa.ask(question, domain="legal").text
    chain = as_runnable(qa, output="message", domain="legal") | StrOutputParser()

    assert chain.invoke(question) == expected
    pieces = list(chain.stream(question))
    assert len(pieces) > 1 and "".join(pieces) == expected  # token by token

    async def collect() -> list[str]:
        return [piece async for piece in chain.astream(question)]

    assert "".join(asyncio.run(collect())) == expected
    message = as_runnable(qa, output="message").invoke({"question": question, "top_k": 1})
    assert isinstance(message, AIMessageChunk)
    assert message.response_metadata["sources"][0]["doc_id"] == "lease.md"
    assert message.response_metadata["backend"] == "local"
    with pytest.raises(ConfigError, match="unknown output 'text'"):
        as_runnable(qa, output="text")


def test_the_async_pipeline_answers_like_the_sync_one(qa: Pipeline) -> None:
    question = "When are refunds paid?"
    twin = AsyncPipeline(pipeline=qa)

    async def run() -> tuple[Any, ...]:
        return (
            await twin.retrieve(question, top_k=2),
            await twin.ask(question),
            await twin.ask_many([question, question]),
            [event async for event in twin.stream(question)],
        )

    sources, answer, many, events = asyncio.run(run())
    assert sources == qa.retrieve(question, top_k=2)
    assert answer.text == qa.ask(question).text == many[1].text
    assert "".join(e for e in events if isinstance(e, str)) == answer.text
    assert isinstance(events[-1], Answer) and events[-1].text == answer.text
