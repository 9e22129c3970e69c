"""The local model's reply to a prompt of the caller's own, with no retrieval.

What a chat model over the local model needs (`adaptrag.langchain.chat_model`): the
prompt is the conversation, and the adapter is the one named (None or "base": the base
model), resolved through the pipeline's adapter provider.
"""

from __future__ import annotations

from collections.abc import Iterator

from adaptrag.rag.generators import Generation
from adaptrag.rag.parts import Parts
from adaptrag.rag.prompts import Prompt


def complete(
    parts: Parts, prompt: Prompt, *, adapter: str | None = None, max_new_tokens: int | None = None
) -> Generation:
    """The local model's reply to `prompt` (with `adapter`), in one piece."""
    generator, choice, max_new = parts.local(adapter, max_new_tokens)
    return parts.adapters.generate_many(generator, [prompt], [choice], max_new_tokens=max_new)[0]


def complete_stream(
    parts: Parts, prompt: Prompt, *, adapter: str | None = None, max_new_tokens: int | None = None
) -> Iterator[str | Generation]:
    """`complete` as text deltas, then the `Generation`."""
    generator, choice, max_new = parts.local(adapter, max_new_tokens)
    return parts.adapters.stream(generator, prompt, choice, max_new_tokens=max_new)
