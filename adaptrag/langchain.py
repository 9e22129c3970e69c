"""LangChain integration: the pipeline as a `BaseRetriever`, as a `Runnable`, and its local
model (with a domain's adapter) as a chat model.

Apps already on LangChain plug adaptrag in without changing their chains:
`as_retriever(pipeline)` yields `Document`s (metadata: doc_id, chunk_id, score and the
stored payload); `as_runnable(pipeline)` maps a question to an `Answer`;
`as_runnable(pipeline, output="message")` to an AI message that streams token by token
(`| StrOutputParser()` gives text); `chat_model(pipeline, adapter="legal")` is a
`BaseChatModel` over the local model tuned for a domain, for the user's own chains.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda
from pydantic import ConfigDict, Field
from typing_extensions import Unpack

from adaptrag.rag.answering.completion import complete, complete_stream
from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.query import Query, QueryOptions
from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.base import Generation
from adaptrag.rag.infra.threads import iterate_on_thread
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.types import Answer, Source


class Answers(Protocol):
    """What the runnables need of a pipeline (`Pipeline` is one)."""

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
    """A LangChain `Document` for a retrieved source: its text, and in metadata the stored
    payload with `Source.to_dict`'s fields (doc_id, chunk_id, score, page, label)."""
    data = source.to_dict()
    text, payload = data.pop("text"), data.pop("metadata")
    return Document(page_content=text, metadata={**payload, **data}, id=source.chunk_id)


class PipelineRetriever(BaseRetriever):
    """A LangChain retriever backed by `Pipeline.retrieve` (hybrid search, filters, MMR).

    `k` is how many documents come back (LangChain's convention; our `top_k`), set on the
    retriever or per call (`retriever.invoke(question, k=3)`); unset, the settings' `top_k`.
    Other search options (`domain`, `filters`, `mode`...) go in `search`, or per call too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Any
    search: dict[str, Any] = Field(default_factory=dict)
    k: int | None = Field(default=None, ge=1)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        options = {**self.search, **kwargs}
        k = options.pop("k", self.k)
        if k is not None:
            options["top_k"] = k
        sources = self.pipeline.retrieve(query, **options)
        if k is not None:  # merged neighbours or a lead chunk never make it more than k
            sources = sources[:k]
        return [to_document(s) for s in sources]


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


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def conversation_prompt(messages: Sequence[BaseMessage]) -> Prompt:
    """LangChain messages as a prompt whose turns the local model's chat template renders."""
    turns = []
    for message in messages:
        role = _ROLES.get(message.type)
        if role is None:
            raise ConfigError(
                f"the local chat model takes system, human and ai messages, not {message.type!r}"
            )
        turns.append((role, message.text))
    system = "\n".join(text for role, text in turns if role == "system")
    user = next((text for role, text in reversed(turns) if role == "user"), "")
    return Prompt(system=system, user=user, sources=(), conversation=tuple(turns))


def _cut(text: str, stop: Sequence[str] | None) -> str:
    """The text up to the first stop sequence (the model may have written past it)."""
    for marker in stop or ():
        text = text.split(marker, 1)[0]
    return text


def _usage(generation: Generation) -> UsageMetadata:
    used = generation.usage
    return UsageMetadata(
        input_tokens=used.input_tokens,
        output_tokens=used.output_tokens,
        total_tokens=used.input_tokens + used.output_tokens,
    )


class AdapterChatModel(BaseChatModel):
    """The local model, with a registered LoRA adapter (or none), as a LangChain chat model.

    The adapter is switched per call on the shared model, as for `Pipeline.ask`; the base
    model's fingerprint is checked against the adapter's. A call may name another adapter
    with LangChain's per-call override (`invoke(messages, model="legal/v2")`, "base" for
    none); `response_metadata["model_name"]` is the base model id with `+adapter`. `stop`
    sequences cut the text; `max_tokens` is accepted for `max_new_tokens`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    pipeline: Any
    adapter: str | None = None
    # LangChain's name for the answer length is max_tokens; both are accepted.
    max_new_tokens: int | None = Field(default=None, ge=1, alias="max_tokens")

    @property
    def _llm_type(self) -> str:
        return "adaptrag-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"adapter": self.adapter or "base", "max_new_tokens": self.max_new_tokens}

    def _adapter(self, kwargs: Mapping[str, Any]) -> str | None:
        """The adapter of one call: `model=` (LangChain's per-call override) or the model's."""
        chosen = kwargs.get("model")
        return str(chosen) if chosen else self.adapter

    def _model_name(self, adapter: str | None, model: str | None = None) -> str:
        """The base model id, with the adapter after a '+' when one is named."""
        base = model or str(getattr(self.pipeline.settings, "generator_model", "local"))
        return f"{base}+{adapter}" if adapter else base

    def _metadata(self, generation: Generation, adapter: str | None) -> dict[str, Any]:
        return {
            "model_name": self._model_name(adapter, generation.model),
            "adapter": adapter or "base",
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """LangSmith's tracing parameters: provider, model (with the call's adapter), limits."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "adaptrag"
        adapter = self._adapter(kwargs)
        params["ls_model_name"] = (
            str(kwargs["model"]) if kwargs.get("model") else self._model_name(adapter)
        )
        params["ls_model_type"] = "chat"
        params["ls_temperature"] = float(getattr(self.pipeline.settings, "temperature", 0.0))
        if self.max_new_tokens is not None:
            params["ls_max_tokens"] = self.max_new_tokens
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        adapter = self._adapter(kwargs)
        generation = complete(
            self.pipeline,
            conversation_prompt(messages),
            adapter=adapter,
            max_new_tokens=self.max_new_tokens,
        )
        message = AIMessage(
            content=_cut(generation.text, stop).strip(),
            response_metadata=self._metadata(generation, adapter),
            usage_metadata=_usage(generation),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        adapter = self._adapter(kwargs)
        events = complete_stream(
            self.pipeline,
            conversation_prompt(messages),
            adapter=adapter,
            max_new_tokens=self.max_new_tokens,
        )
        written, pending, started = "", "", False
        for event in events:
            if isinstance(event, str):
                piece = _cut(written + event, stop)[len(written) :]
                written += event
                if not started:  # the text is stripped, as `invoke`'s is
                    piece = piece.lstrip()
                    started = bool(piece)
                body = (pending + piece).rstrip()  # trailing spaces wait for more text
                pending = (pending + piece)[len(body) :]
                if body:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=body))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(body, chunk=chunk)
                    yield chunk
            else:
                final = AIMessageChunk(
                    content="",
                    response_metadata=self._metadata(event, adapter),
                    usage_metadata=_usage(event),
                )
                yield ChatGenerationChunk(message=final)


def as_retriever(pipeline: Pipeline, k: int | None = None, **search: Any) -> BaseRetriever:
    """A LangChain `BaseRetriever` over `pipeline`: `k` documents a call (unset: the
    settings' `top_k`), `search`: `Pipeline.retrieve`'s other arguments."""
    return PipelineRetriever(pipeline=pipeline, search=search, k=k)


def as_runnable(pipeline: Pipeline, output: str = "answer", **ask: Any) -> Runnable[Any, Any]:
    """A LangChain Runnable from a question (or {"question": ...}) to an `Answer`, or with
    `output="message"` to an `AIMessageChunk` that streams token by token (its
    `response_metadata` holds the sources, citations, route, usage and timings)."""
    if output == "message":
        return message_runnable(pipeline, ask)
    if output != "answer":
        raise ConfigError(f"unknown output {output!r}; use answer or message")
    return answer_runnable(pipeline, ask)


def chat_model(
    pipeline: Pipeline, adapter: str | None = None, *, max_new_tokens: int | None = None
) -> BaseChatModel:
    """The pipeline's local model as a LangChain chat model, with a registered adapter
    (`name` or `name/vN`; None or "base": the base model). No retrieval: the chain's
    messages are the prompt. `.invoke`, `.batch`, `.stream` and `.astream` work as for any
    chat model."""
    if adapter not in (None, BASE_ADAPTER):
        pipeline.adapters.resolve(adapter)  # an unknown adapter fails here, in one line
    return AdapterChatModel(pipeline=pipeline, adapter=adapter, max_tokens=max_new_tokens)
