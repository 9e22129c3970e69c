"""One table from the Anthropic and OpenAI SDKs' errors to ours.

Both SDKs raise the same hierarchy of error classes (generated from one template), so an
error is classified once, by the first class of `KINDS` it is an instance of (by name,
through its class's MRO), and each generator words the kinds in its own `Messages` table:
what happened and what to do, formatted with the call's fields (`{where}`, `{retries}`,
`{model}`, `{timeout}`, `{message}`: the server's own message, `{status}`, `{exc}`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adaptrag.rag.errors import AdaptragError, BackendError

# (SDK class name, kind), most specific first: a timeout is a connection error, a 429 a
# status error.
KINDS: tuple[tuple[str, str], ...] = (
    ("AuthenticationError", "auth"),
    ("PermissionDeniedError", "permission"),
    ("NotFoundError", "not_found"),
    ("RateLimitError", "rate_limit"),
    ("OverloadedError", "overloaded"),
    ("APITimeoutError", "timeout"),
    ("APIConnectionError", "connection"),
    ("BadRequestError", "bad_request"),
    ("APIStatusError", "status"),
)
OVERLOADED_STATUS = 529  # Anthropic's "overloaded", which older SDKs raise as a status error

Messages = Mapping[str, tuple[type[AdaptragError], str]]


def error_body(exc: Exception) -> dict[str, Any]:
    """The error object of a status error's JSON body: {"error": {...}} or the body itself."""
    body = getattr(exc, "body", None)
    body = body if isinstance(body, dict) else {}
    error = body.get("error", body)
    return error if isinstance(error, dict) else {}


def server_message(exc: Exception, default: str | None = None) -> str:
    """The server's own message: OpenAI's and Anthropic's {"error": {"message"}}, vLLM's
    {"message"}, FastAPI's {"detail"}; else `default` (None: the SDK's message)."""
    error = error_body(exc)
    found = error.get("message") or error.get("detail")
    if found:
        return str(found)
    return str(getattr(exc, "message", "") or "") if default is None else default


def error_kind(exc: Exception) -> str:
    """The row of `KINDS` an SDK error belongs to ("other" for none)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    overloaded = getattr(exc, "status_code", None) == OVERLOADED_STATUS
    if overloaded or error_body(exc).get("type") == "overloaded_error":
        return "overloaded"
    return next((kind for name, kind in KINDS if name in names), "other")


class _Fields(dict[str, Any]):
    """Format fields whose values may be computed only when a message uses them."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return value() if callable(value) else value


def translate(
    exc: Exception, messages: Messages, **fields: Any | Callable[[], Any]
) -> AdaptragError:
    """Our error for an SDK error: the kind's class and message from `messages` (a kind it
    does not word falls to "status", then to "other")."""
    kind = error_kind(exc)
    if kind not in messages:
        kind = "status" if kind != "other" and "status" in messages else "other"
    error_class, template = messages.get(kind, (BackendError, "{where} failed: {exc}"))
    values = _Fields(
        message=lambda: server_message(exc),
        status=getattr(exc, "status_code", ""),
        exc=exc,
        **fields,
    )
    return error_class(template.format_map(values))
