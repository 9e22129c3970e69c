"""`AsyncPipeline`: `Pipeline`'s API for an event loop.

Each call runs the synchronous pipeline on a worker thread (`asyncio.to_thread`), so the
loop never blocks on a model or the store; a stream runs each step on a thread. The same
models and store serve both: `AsyncPipeline(pipeline=qa)` wraps one already built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from typing_extensions import Unpack

from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.query import Query, QueryOptions
from adaptrag.rag.infra.threads import iterate_on_thread
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Answer, Source


class AsyncPipeline:
    """`Pipeline` with awaitable calls: `await qa.ask(...)`, `async for e in qa.stream(...)`.

    Args: as `Pipeline`'s, or `pipeline=` an existing one (then the others are not taken).
    """

    def __init__(
        self, settings: Settings | None = None, *, pipeline: Pipeline | None = None, **parts: Any
    ) -> None:
        self.pipeline = pipeline or Pipeline(settings, **parts)

    async def retrieve(
        self, question: str | Query, **options: Unpack[QueryOptions]
    ) -> list[Source]:
        """`Pipeline.retrieve` without blocking the event loop."""
        return await asyncio.to_thread(self.pipeline.retrieve, Query.of(question, options))

    async def ask(self, question: str | Query, **options: Unpack[QueryOptions]) -> Answer:
        """`Pipeline.ask` without blocking the event loop."""
        return (await self.answer([Query.of(question, options)]))[0]

    async def ask_many(
        self, questions: Sequence[str | Query], **options: Unpack[QueryOptions]
    ) -> list[Answer]:
        """`Pipeline.ask_many` without blocking the event loop."""
        return await self.answer([Query.of(q, options) for q in questions])

    async def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """`Pipeline.answer` without blocking the event loop."""
        return await asyncio.to_thread(self.pipeline.answer, queries)

    async def stream(
        self, question: str | Query, **options: Unpack[QueryOptions]
    ) -> AsyncIterator[str | Answer]:
        """`Pipeline.stream`: text deltas, then the `Answer`; each step on a worker thread."""
        events = self.pipeline.answer_stream(Query.of(question, options))
        async for event in iterate_on_thread(events):
            yield event

    async def close(self) -> None:
        """Release the store and connections (`Pipeline.close`)."""
        await asyncio.to_thread(self.pipeline.close)

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
