"""Generators: the `Generator` Protocol and a factory that builds a backend from settings.

Backend modules (and their libraries: torch and transformers, anthropic, openai) are imported only
when that backend is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adaptrag.rag.generators.base import Generation, Generator

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

__all__ = ["Generation", "Generator", "make_generator"]


def make_generator(backend: str, settings: Settings) -> Generator:
    """The generator for `backend` ("local", "claude" or "openai") as `settings` say."""
    if backend == "openai":
        from adaptrag.rag.generators.openai import OpenAIGenerator

        key = settings.openai_api_key
        return OpenAIGenerator(
            settings.openai_base_url,
            api_key=key.get_secret_value() if key else None,
            model=settings.openai_model,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
            concurrency=settings.openai_concurrency,
            context_tokens=settings.openai_context_tokens,
        )
    if backend == "claude":
        from adaptrag.rag.generators.claude import ClaudeGenerator, Prices

        return ClaudeGenerator(
            settings.claude_model,
            timeout_s=settings.claude_timeout_s,
            max_retries=settings.claude_max_retries,
            concurrency=settings.claude_concurrency,
            prices=Prices(settings.claude_input_usd_per_mtok, settings.claude_output_usd_per_mtok),
        )
    from adaptrag.rag.generators.local import Decoding, LocalGenerator

    return LocalGenerator(
        settings.generator_model,
        models_dir=settings.models_dir,
        device=settings.generator_device,
        temperature=settings.temperature,
        batch_size=settings.generation_batch_size,
        max_waiting=settings.max_waiting_generations,
        decoding=Decoding(
            repetition_penalty=settings.repetition_penalty,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            stop_at_paragraph=settings.stop_at_paragraph,
            extractive=settings.decoding == "extractive",
            prompt_lookup=settings.prompt_lookup_tokens,
        ),
    )
