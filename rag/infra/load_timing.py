"""Model load time, counted apart from a request's stages.

Models load on first use (the embedder, the generator, the reranker, an adapter). A request
that triggers a load, or waits for one, would otherwise report seconds of loading as search
or generation time. Every lazy load runs inside `loading()`; a request runs inside
`load_clock()`, which adds the loads of its own context (thread or task) to its `load_ms`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class LoadClock:
    """Milliseconds spent loading models while it was running."""

    def __init__(self) -> None:
        self.ms = 0.0


_clock: ContextVar[LoadClock | None] = ContextVar("adaptrag_load_clock", default=None)


@contextmanager
def loading() -> Iterator[None]:
    """Wrap a model load (and any wait for another thread's load of the same model)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        clock = _clock.get()
        if clock is not None:
            clock.ms += (time.perf_counter() - started) * 1000


@contextmanager
def load_clock(clock: LoadClock | None = None) -> Iterator[LoadClock]:
    """Count the loads of this context into `clock` (a new one by default)."""
    clock = clock or LoadClock()
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)


def loaded_ms() -> float:
    """Milliseconds of loads counted so far by this context's clock (0 without one)."""
    clock = _clock.get()
    return clock.ms if clock is not None else 0.0


class Stopwatch:
    """Elapsed milliseconds since it was made, less the loads counted meanwhile."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.loaded = loaded_ms()

    def ms(self) -> float:
        """Milliseconds of work so far, model loads left out."""
        elapsed = (time.perf_counter() - self.started) * 1000
        return max(0.0, elapsed - (loaded_ms() - self.loaded))


def clocked(iterator: Iterator[T], clock: LoadClock) -> Iterator[T]:
    """The items of `iterator`, each step's loads counted into `clock`.

    The clock is set around each `next` only, so a generator that is resumed on another
    thread (as `AsyncPipeline.stream` does) never resets a context it did not set.
    """
    while True:
        with load_clock(clock):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item
