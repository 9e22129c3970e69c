"""Ask, stream and retrieve: a question in, sources (and an answer) out, within the key's rights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from adaptrag.rag.answering.query import Query
from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.errors import AdaptragError, ConfigError
from adaptrag.rag.types import Answer
from adaptrag.server.auth import Access
from adaptrag.server.dependencies import Caller, Server, ServerDep
from adaptrag.server.errors import ApiError, status_of
from adaptrag.server.responses import AnswerOut, RetrieveOut
from adaptrag.server.schemas import AskRequest, RetrieveRequest

router = APIRouter()
SSE_ANSWER = (
    '`event: delta` with `{"text"}` per token, then one `event: answer` whose data is '
    'an `AnswerOut`, or `event: error` with `{"error", "type"}`.'
)
T = TypeVar("T")


def check_limits(server: Server, body: RetrieveRequest) -> None:
    """Refuse a question or top_k over the server's limits (422)."""
    limits = server.settings.server
    if len(body.question) > limits.max_question_chars:
        raise ApiError(
            422,
            f"the question has {len(body.question)} characters; the limit is "
            f"{limits.max_question_chars} (ADAPTRAG_MAX_QUESTION_CHARS)",
        )
    if body.top_k is not None and body.top_k > limits.max_top_k:
        raise ApiError(
            422,
            f"top_k {body.top_k} is above the limit {limits.max_top_k} (ADAPTRAG_MAX_TOP_K)",
        )


def request_query(server: Server, body: RetrieveRequest, caller: Access) -> Query:
    """The request's `Query`, within the server's limits and the key's domains."""
    check_limits(server, body)
    domain, filters = caller.scope(body.domain, body.filters)
    return body.to_query(domain, filters or None)


def check_adapter(server: Server, ref: str, caller: Access) -> None:
    """Refuse an adapter the key may not use, saying the same whether it exists or not."""
    unknown = ApiError(
        400, f"no adapter {ref!r} that this key may use; GET /v1/adapters lists them"
    )
    try:
        domain = server.qa.adapters.resolve(ref).domain
    except ConfigError:
        raise unknown from None
    if not caller.may_read(domain):
        raise unknown


def admitted(server: Server, query: Query, caller: Access) -> Query:
    """`query`, once its adapter (if it names one) is one the key may use."""
    if query.adapter not in (None, BASE_ADAPTER):
        check_adapter(server, query.adapter, caller)
    return query


def answer_one(server: Server, query: Query, caller: Access) -> Answer:
    """The answer to an admitted query (on a worker thread)."""
    return server.qa.answer([admitted(server, query, caller)])[0]


@router.post("/v1/ask", summary="Answer a question with sources", response_model=AnswerOut)
async def ask(body: AskRequest, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """The answer to one question, with sources, citations, route, usage and timings."""
    query = request_query(server, body, caller)
    answer = await server.blocking(answer_one, server, query, caller)
    server.metrics.answered(answer)
    return server.paths.answer(answer.to_dict())


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def chained(first: T, rest: Iterator[T]) -> Iterator[T]:
    """`first`, then the rest (a stream whose first event was taken to surface errors)."""
    yield first
    yield from rest


@router.post(
    "/v1/ask/stream",
    summary="Answer as Server-Sent Events: `delta` events, then one `answer` event",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": SSE_ANSWER}},
)
async def ask_stream(body: AskRequest, caller: Caller, server: ServerDep) -> StreamingResponse:
    """The answer as Server-Sent Events: `delta` events, then one `answer` (or `error`)."""
    query = request_query(server, body, caller)

    def start() -> tuple[str | Answer, Iterator[str | Answer]]:
        events = server.qa.answer_stream(admitted(server, query, caller))
        return next(events), events  # routing errors surface here, as a 4xx

    first, events = await server.blocking(start)

    def sse() -> Iterator[str]:
        try:
            for event in chained(first, events):
                if isinstance(event, Answer):
                    server.metrics.answered(event)
                    yield _sse("answer", server.paths.answer(event.to_dict()))
                else:
                    yield _sse("delta", {"text": event})
        except AdaptragError as error:
            message = server.message_of(error)
            yield _sse("error", {"error": message, "type": status_of(error)[1]})

    return StreamingResponse(
        sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.post(
    "/v1/retrieve",
    summary="The best chunks for a question, without generation",
    response_model=RetrieveOut,
)
async def retrieve(body: RetrieveRequest, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """The best chunks for a question, within the key's domains."""
    sources = await server.blocking(server.qa.retrieve, request_query(server, body, caller))
    return {"sources": [server.paths.source(s.to_dict()) for s in sources]}
