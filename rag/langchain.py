"""LangChain integration: the pipeline as a `BaseRetriever` and as a `Runnable`.

Apps already on LangChain plug adaptrag in without changing their chains:
`pipeline.as_retriever()` yields `Document`s (metadata: doc_id, chunk_id, score and the
stored payload); `pipeline.as_runnable()` maps a question to an `Answer`;
`pipeline.as_runnable(output="message")` to an AI message that streams token by token
(`| StrOutputParser()` gives text).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import AIMessageChunk
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda
from pydantic import ConfigDict, Field
from typing_extensions import Unpack

from rag.errors import ConfigError
from rag.query import Query, QueryOptions
from rag.threads import iterate_on_thread
from rag.types import Answer, Source


class Answers(Protocol):
    """What the adapters need of a pipeline (`rag.Pipeline` is one): no import back to it."""

    def retrieve(self, question: str | Query, **options: Unpack[QueryOptions]) -> list[Source]:
        """The best sources for a question (`Pipeline.retrieve`)."""
        ...

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """The answers to queries (`Pipeline.answer`)."""
        ...

    def answer_stream(self, query: Query) -> Iterator[str | Answer]:
        """Text deltas, then the `Answer` (`Pipeline.answer_stream`)."""
        ...


def to_document(source: Source) -> Document:
    """A LangChain `Document` for a retrieved source."""
    metadata = {
        **source.metadata,
        "doc_id": source.doc_id,
        "chunk_id": source.chunk_id,
        "score": source.score,
    }
    return Document(page_content=source.text, metadata=metadata, id=source.chunk_id)


class PipelineRetriever(BaseRetriever):
    """A LangChain retriever backed by `Pipeline.retrieve` (hybrid search, filters, MMR)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Any
    search: dict[str, Any] = Field(default_factory=dict)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [to_document(s) for s in self.pipeline.retrieve(query, **self.search)]


def _question(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return value["question"]
    raise ConfigError(
        f"the runnable takes a question string or {{'question': ...}}, not {type(value).__name__}"
    )


def _query(value: Any, ask: Mapping[str, Any]) -> Query:
    extra = {k: v for k, v in value.items() if k != "question"} if isinstance(value, dict) else {}
    return Query.of(_question(value), {**ask, **extra})


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """What an `AIMessage` carries of an `Answer` besides its text."""
    data = answer.to_dict()
    return {key: value for key, value in data.items() if key != "text"}


def message_runnable(pipeline: Answers, ask: dict[str, Any]) -> Runnable[Any, AIMessageChunk]:
    """A Runnable from a question to an AI message whose text streams token by token.

    `.stream()` / `.astream()` yield `AIMessageChunk`s as the model writes; the last one
    carries the answer's sources, citations, route, usage and timings in
    `response_metadata`. `invoke` returns their sum, so `| StrOutputParser()` gives text.
    """

    def chunks(value: Any) -> Iterator[AIMessageChunk]:
        for event in pipeline.answer_stream(_query(value, ask)):
            if isinstance(event, str):
                yield AIMessageChunk(content=event)
            else:
                yield AIMessageChunk(content="", response_metadata=answer_metadata(event))

    def transform(inputs: Iterator[Any]) -> Iterator[AIMessageChunk]:
        for value in inputs:
            yield from chunks(value)

    async def atransform(inputs: AsyncIterator[Any]) -> AsyncIterator[AIMessageChunk]:
        async for value in inputs:
            async for chunk in iterate_on_thread(chunks(value)):  # the model off the loop
                yield chunk

    return RunnableGenerator(transform, atransform, name="adaptrag_message")


def answer_runnable(pipeline: Answers, ask: dict[str, Any]) -> Runnable[Any, Answer]:
    """A Runnable from a question (or a dict with "question" and ask's arguments) to an Answer.

    `batch` answers every input in one `Pipeline.answer` call, so local generation is
    batched.
    """

    def invoke(value: Any) -> Answer:
        return pipeline.answer([_query(value, ask)])[0]

    def batch(values: list[Any]) -> list[Answer]:
        return pipeline.answer([_query(value, ask) for value in values])

    return _BatchedLambda(invoke, batch_func=batch, name="adaptrag_ask")


class _BatchedLambda(RunnableLambda[Any, Answer]):
    """A RunnableLambda whose `batch` answers all inputs in one `ask_many` call."""

    def __init__(self, func: Any, *, batch_func: Any, name: str) -> None:
        super().__init__(func, name=name)
        self._batch_func = batch_func

    def batch(
        self,
        inputs: list[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Answer]:
        if return_exceptions:  # per-input errors: fall back to one call per input
            return super().batch(inputs, config, return_exceptions=True, **kwargs)
        return list(self._batch_func(list(inputs)))
