"""A time limit for the work of one request, readable by the code that does the work.

The server sets the limit around each request's blocking work (`time_limit`); the local
generator stops producing tokens once it passes, and the Claude generator gives the SDK no
more time than is left. A context variable carries it, so it follows the request into the
worker thread (anyio copies the context) without an argument on every call in between.
Outside a `time_limit` there is no limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from adaptrag.rag.errors import AdaptragError

T = TypeVar("T")

_deadline: ContextVar[float | None] = ContextVar("adaptrag_deadline", default=None)


class DeadlineExceeded(AdaptragError, TimeoutError):
    """The request's time limit passed; its work was stopped."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Limit the work done inside the block (and in threads started with its context)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float | None:
    """The `time.monotonic()` value at which the current work must stop; None: no limit."""
    return _deadline.get()


def remaining_s(deadline: float | None = None) -> float | None:
    """Seconds left before `deadline` (default: the current one); None when unlimited."""
    deadline = current_deadline() if deadline is None else deadline
    return None if deadline is None else deadline - time.monotonic()


def check(what: str, deadline: float | None = None) -> None:
    """Raise `DeadlineExceeded` if the deadline has passed."""
    left = remaining_s(deadline)
    if left is not None and left <= 0:
        raise DeadlineExceeded(f"{what} stopped at the request's time limit")


def client_in_time(client: T, timeout_s: float, what: str) -> T:
    """An API SDK client (anthropic, openai: both have `with_options`) given no more time per
    attempt than the request has left; past the limit, `what` stops here."""
    left = remaining_s()
    if left is None:
        return client
    if left <= 0:
        raise DeadlineExceeded(f"{what} stopped at the request's time limit")
    sdk: Any = client  # typed loosely: the two SDKs share the method, not a base class
    bounded: T = sdk.with_options(timeout=min(timeout_s, left))
    return bounded
