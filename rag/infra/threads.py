"""Blocking work seen from async code: a sync iterator driven one step per worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()


async def iterate_on_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """The items of `iterator`, each `next` run on a worker thread (the event loop never
    blocks on the model); the context, and so the deadline, goes with every step."""
    while (item := await asyncio.to_thread(next, iterator, _END)) is not _END:
        yield cast(T, item)
