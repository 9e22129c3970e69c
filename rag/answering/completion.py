"""The local model's reply to a prompt of the caller's own, with no retrieval.

What a chat model over the local model needs (`adaptrag.langchain.chat_model`): the
prompt is the conversation, and the adapter is the one named (None or "base": the base
model), resolved through the pipeline's adapter provider.
"""

from __future__ import annotations

from collections.abc import Iterator

from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.generators import Generation, Generator
from adaptrag.rag.prompts import Prompt


def complete(
    pipeline: Pipeline,
    prompt: Prompt,
    *,
    adapter: str | None = None,
    max_new_tokens: int | None = None,
) -> Generation:
    """The local model's reply to `prompt` (with `adapter`), in one piece."""
    generator, max_new = _local(pipeline, adapter, max_new_tokens)
    return generator.generate(prompt, max_new_tokens=max_new)


def complete_stream(
    pipeline: Pipeline,
    prompt: Prompt,
    *,
    adapter: str | None = None,
    max_new_tokens: int | None = None,
) -> Iterator[str | Generation]:
    """`complete` as text deltas, then the `Generation`."""
    generator, max_new = _local(pipeline, adapter, max_new_tokens)
    return generator.stream(prompt, max_new_tokens=max_new)


def _local(
    pipeline: Pipeline, adapter: str | None, max_new_tokens: int | None
) -> tuple[Generator, int]:
    """The local generator with the adapter named (None or "base": the base model), and the
    answer length (None: the settings')."""
    choice = None if adapter in (None, BASE_ADAPTER) else pipeline.adapters.resolve(adapter)
    max_new = max_new_tokens or pipeline.settings.generation.max_new_tokens
    return pipeline.adapters.bind(pipeline.generator("local"), choice), max_new
