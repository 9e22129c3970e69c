"""The OpenAI protocol: `/v1/chat/completions` (JSON and SSE) and `/v1/models`, so the
`openai` SDK, LangChain's `ChatOpenAI`, LiteLLM and chat UIs can ask the documents.

A model id names what answers (`MODEL_SCHEME` below); the same keys, domain rules, limits,
timeouts and metrics apply as to `/v1/ask`. The question is the last user message. The
answer's sources, citations, grounding verdict and route come back in an extra `adaptrag`
field of the completion and, when streaming, of the final chunk: plain clients get text,
aware clients get everything. Errors are in OpenAI's shape (`server.errors.error_body`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.errors import AdaptragError
from adaptrag.rag.generators import backends
from adaptrag.rag.types import Answer, is_domain_name
from adaptrag.server.auth import Access
from adaptrag.server.dependencies import Caller, Server, ServerDep, readable_domains
from adaptrag.server.errors import ApiError, problems, status_of
from adaptrag.server.responses import ChatCompletionOut, ModelList
from adaptrag.server.routes.answers import admitted, answer_one, chained, request_query
from adaptrag.server.schemas import AskRequest

router = APIRouter()

PREFIX = "adaptrag"
MODEL_SCHEME = (
    "`adaptrag` (every domain of the key, routed as /v1/ask), `adaptrag/DOMAIN` (the "
    "domain, with its promoted adapter when it passed its gate), `adaptrag/DOMAIN@vN` (the "
    "domain's adapter version N), `adaptrag/DOMAIN:base` (the base model, no adapter), "
    "`adaptrag/DOMAIN:BACKEND` (that backend: local, claude, openai or an installed one)"
)


@dataclass(frozen=True)
class ModelChoice:
    """What a model id asks for."""

    domain: str | None = None
    backend: str | None = None
    adapter: str | None = None


def parse_model(model: str) -> ModelChoice:
    """The domain, backend and adapter a model id names (see MODEL_SCHEME); a 404 for an id
    outside the scheme."""
    unknown = _unknown(model)
    if model == PREFIX:
        return ModelChoice()
    prefix, _, rest = model.partition("/")
    if prefix != PREFIX or not rest:
        raise unknown
    domain, at, version = rest.partition("@")
    domain, colon, variant = domain.partition(":")
    if not is_domain_name(domain) or (at and colon):
        raise unknown
    if at:
        if not (version.startswith("v") and version[1:].isdigit()):
            raise unknown
        return ModelChoice(domain, adapter=f"{domain}@{version}")
    if not colon:
        return ModelChoice(domain)
    if variant == "base":
        return ModelChoice(domain, adapter=BASE_ADAPTER)
    if variant in backends():
        return ModelChoice(domain, backend=variant)
    raise unknown


class ChatMessage(BaseModel):
    """One message of the conversation (text, or a list of text parts)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(
                str(part.get("text", "")) for part in self.content if part.get("type") == "text"
            )
        return self.content or ""


class ChatRequest(BaseModel):
    """A chat completion request; sampling fields clients send (temperature...) are
    accepted and ignored (answers are greedy)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="What answers: " + MODEL_SCHEME)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    n: int = Field(1, ge=1, le=1)
    stream_options: dict[str, Any] | None = None


def _adapter_ref(server: Server, choice: ModelChoice) -> str | None:
    """The registry ref of `domain@vN`: the domain's adapter of that version."""
    if choice.adapter is None or "@" not in choice.adapter:
        return choice.adapter
    domain, version = choice.adapter.split("@")
    refs = [a.ref for a in _adapters(server) if a.domain == domain]
    matching = [ref for ref in refs if ref.endswith(f"/{version}")]
    if len(matching) != 1:
        raise ApiError(404, f"no adapter {version} for domain {domain!r}", "model_not_found")
    return matching[0]


def _adapters(server: Server) -> list[Any]:
    """The registered adapter versions (`AdapterInfo`s)."""
    from adaptrag.adapters.registry import AdapterRegistry

    return AdapterRegistry(server.settings.data_dir).list()


def _unknown(model: str) -> ApiError:
    return ApiError(404, f"no model {model!r}; GET /v1/models lists them", "model_not_found")


# Fields of OpenAI's request that would change what a client expects back: refused by name
# (a framework must not believe tool calls or JSON mode work), with what is accepted.
UNSUPPORTED = {
    "tools": "tool calls",
    "tool_choice": "tool calls",
    "functions": "function calls",
    "function_call": "function calls",
    "parallel_tool_calls": "tool calls",
    "response_format": "structured output (only {'type': 'text'})",
    "logprobs": "log probabilities",
    "top_logprobs": "log probabilities",
    "audio": "audio output",
    "modalities": "output other than text",
    "prediction": "predicted outputs",
}
# The fields honoured (sampling fields such as temperature are accepted and ignored: answers
# are greedy), as `/v1/models` lists them.
SUPPORTED = ("max_tokens", "max_completion_tokens", "stream", "stream_options")
# A value that asks for nothing unsupported (what some clients send by default).
_HARMLESS: tuple[Any, ...] = (None, False, [], "none", {"type": "text"}, ["text"])


def check_supported(body: ChatRequest) -> None:
    """Refuse a request that asks for something the endpoint does not do (400, naming the
    field); sampling fields (temperature, top_p, seed, stop...) are accepted and ignored."""
    for field, feature in UNSUPPORTED.items():
        value = (body.model_extra or {}).get(field)
        if not any(value == harmless for harmless in _HARMLESS):
            raise ApiError(
                400,
                f"'{field}' is not supported: adaptrag answers from documents in text and "
                f"does no {feature}; leave '{field}' out",
                "unsupported_parameter",
                param=field,
            )


def _ask(server: Server, body: ChatRequest, caller: Access) -> AskRequest:
    """The /v1/ask request a chat request stands for."""
    check_supported(body)
    asked = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not asked or not body.messages[asked[-1]].text().strip():
        raise ApiError(400, "the conversation has no user message with text to answer")
    choice = parse_model(body.model)
    if choice.domain is not None and not caller.may_read(choice.domain):
        raise ApiError(
            404, f"no model {body.model!r}; GET /v1/models lists them", "model_not_found"
        )
    last = asked[-1]
    # Which message each history turn came from, to name it in a validation error.
    earlier = [
        i
        for i, m in enumerate(body.messages[:last])
        if m.role in ("user", "assistant") and m.text().strip()
    ][-100:]
    fields = {
        "question": body.messages[last].text(),
        "history": [
            {"role": body.messages[i].role, "content": body.messages[i].text()} for i in earlier
        ],
        "domain": choice.domain,
        "backend": choice.backend,
        "adapter": _adapter_ref(server, choice),
        "max_new_tokens": body.max_completion_tokens or body.max_tokens,
    }
    try:
        return AskRequest.model_validate(fields, strict=False)
    except ValidationError as error:
        where = {"question": f"messages.{last}.content"}
        where |= {f"history.{n}.content": f"messages.{i}.content" for n, i in enumerate(earlier)}
        named = [
            {**e, "loc": tuple(where.get(".".join(map(str, e["loc"])), "messages").split("."))}
            for e in error.errors()
        ]
        raise ApiError(422, f"invalid request: {problems(named)}", "invalid_request") from None


def _finish_reason(answer: Answer, max_new_tokens: int) -> Literal["stop", "length"]:
    return "length" if answer.usage.output_tokens >= max_new_tokens else "stop"


def _usage(answer: Answer) -> dict[str, int]:
    used = answer.usage
    return {
        "prompt_tokens": used.input_tokens,
        "completion_tokens": used.output_tokens,
        "total_tokens": used.input_tokens + used.output_tokens,
    }


def _extra(server: Server, answer: Answer) -> dict[str, Any]:
    """The `adaptrag` field: everything of the answer but its text."""
    return {k: v for k, v in server.paths.answer(answer.to_dict()).items() if k != "text"}


@router.post(
    "/v1/chat/completions",
    summary="OpenAI-compatible chat completion (JSON, or SSE with stream=true)",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletionOut,
            "content": {"text/event-stream": {}},
            "description": "A chat completion, or with `stream: true` its chunks as SSE.",
        }
    },
)
async def chat_completions(
    body: ChatRequest, caller: Caller, server: ServerDep
) -> dict[str, Any] | StreamingResponse:
    """The last user message answered from the documents, as an OpenAI chat completion."""
    ask = _ask(server, body, caller)
    query = request_query(server, ask, caller)
    max_new = ask.max_new_tokens or server.settings.generation.max_new_tokens
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    head = {"id": completion_id, "created": created, "model": body.model}
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return await _stream(server, query, caller, head, max_new, include_usage)
    answer = await server.blocking(answer_one, server, query, caller)
    server.metrics.answered(answer)
    return {
        **head,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": _finish_reason(answer, max_new),
                "logprobs": None,
            }
        ],
        "usage": _usage(answer),
        "adaptrag": _extra(server, answer),
    }


async def _stream(
    server: Server,
    query: Any,
    caller: Access,
    head: dict[str, Any],
    max_new: int,
    include_usage: bool,
) -> StreamingResponse:
    def start() -> tuple[str | Answer, Iterator[str | Answer]]:
        events = server.qa.answer_stream(admitted(server, query, caller))
        return next(events), events  # routing errors surface here, as a 4xx

    first, events = await server.blocking(start)

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        data = {**head, "object": "chat.completion.chunk", "choices": choices, **more}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    # With grounding_action=flag (the default) tokens go out as the model writes them; an
    # answer the action may replace goes out whole at the end, so a client never shows
    # words that were taken back.
    live = server.settings.generation.grounding_action == "flag"

    def sse() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            for event in chained(first, events):
                if not isinstance(event, Answer):
                    if live:
                        yield chunk({"content": event})
                    continue
                server.metrics.answered(event)
                if not live:
                    yield chunk({"content": event.text})
                yield chunk({}, _finish_reason(event, max_new), adaptrag=_extra(server, event))
                if include_usage:
                    data = {**head, "object": "chat.completion.chunk", "choices": []}
                    yield f"data: {json.dumps({**data, 'usage': _usage(event)})}\n\n"
        except AdaptragError as error:
            message = server.message_of(error)
            kind = status_of(error)[1]
            yield f"data: {json.dumps({'error': {'message': message, 'type': kind}})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/v1/models",
    summary="OpenAI-compatible list of the models this key may use",
    response_model=ModelList,
)
async def models(caller: Caller, server: ServerDep) -> dict[str, Any]:
    """Every model id the key may use (see MODEL_SCHEME), for the domains it may read."""

    def listed() -> list[str]:
        domains = readable_domains(server, caller)
        adapters = _adapters(server)
        configured = [n for n, b in backends().items() if b.configured(server.settings)]
        variants = ["base", *configured]
        ids = [PREFIX]
        for domain in domains:
            ids.append(f"{PREFIX}/{domain}")
            ids += [f"{PREFIX}/{domain}:{v}" for v in variants]
            ids += sorted(
                {f"{PREFIX}/{domain}@v{a.version}" for a in adapters if a.domain == domain}
            )
        return ids

    created = int(time.time())
    ids = await server.blocking(listed)
    model = {"object": "model", "created": created, "owned_by": PREFIX}
    supported = list(SUPPORTED)
    return {
        "object": "list",
        "data": [{"id": i, **model, "supported_parameters": supported} for i in ids],
    }
