"""Generators: the `Generator` Protocol, the backend registry, and a factory that builds a
backend's generator from settings.

Backend modules (and their libraries: torch and transformers, anthropic, openai) are imported only
when that backend is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adaptrag.rag.generators.base import Generation, Generator
from adaptrag.rag.generators.registry import Backend, backend, backends, register_backend

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

__all__ = [
    "Backend",
    "Generation",
    "Generator",
    "backend",
    "backends",
    "make_generator",
    "register_backend",
]


def make_generator(backend_name: str, settings: Settings) -> Generator:
    """The generator of a backend (`local`, `claude`, `openai` or an installed one) as
    `settings` say."""
    return backend(backend_name).factory(settings)
