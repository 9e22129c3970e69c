"""The backends: who may answer a question, each registered once with its name.

A `Backend` names a generator, says how to build it from the settings, which settings
section configures it, whether adapters run on it, and whether it is configured. The
built-in ones are `local` (the transformers model), `claude` (the Anthropic API) and
`openai` (an OpenAI-compatible server such as vLLM). A package adds one through the entry
point group `adaptrag.backends` (the value: a `Backend`, or a function returning one), and
an app with `register_backend`. Everything that lists or checks backend names reads
`backends()`: settings validation, the router, the HTTP schemas, the OpenAI model ids
(`adaptrag/legal:NAME`) and `make_generator`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.base import Generator

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

ENTRY_POINT_GROUP = "adaptrag.backends"
AUTO = "auto"  # not a backend: the routing policy that picks one (rag.answering.router)
logger = logging.getLogger(__name__)


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Backend:
    """A backend: its name, how to build its generator, and what the rest must know of it.

    `factory(settings)` builds the generator (importing its library then, not before);
    `section` names the settings section that configures it (documentation);
    `takes_adapters` says LoRA adapters run on it (the adapter runtime binds them: in
    process through PEFT, or by name on a server that loads them); `configured(settings)`
    says whether it can answer now (`/v1/models` lists it only then).
    """

    name: str
    factory: Callable[[Settings], Generator]
    section: str = ""
    takes_adapters: bool = False
    configured: Callable[[Settings], bool] = _always
    description: str = ""


def _local(settings: Settings) -> Generator:
    from adaptrag.rag.generators.local import Decoding, LocalGenerator

    return LocalGenerator(
        settings.local_model.generator_model,
        models_dir=settings.models_dir,
        device=settings.local_model.generator_device,
        temperature=settings.generation.temperature,
        batch_size=settings.local_model.generation_batch_size,
        max_waiting=settings.server.max_waiting_generations,
        decoding=Decoding(
            repetition_penalty=settings.local_model.repetition_penalty,
            no_repeat_ngram_size=settings.local_model.no_repeat_ngram_size,
            stop_at_paragraph=settings.local_model.stop_at_paragraph,
            extractive=settings.local_model.decoding == "extractive",
            prompt_lookup=settings.local_model.prompt_lookup_tokens,
        ),
    )


def _claude(settings: Settings) -> Generator:
    from adaptrag.rag.generators.claude import ClaudeGenerator

    return ClaudeGenerator.from_section(settings.claude)


def _claude_configured(settings: Settings) -> bool:
    from adaptrag.rag.infra.secrets import claude_configured

    return claude_configured()


def _openai(settings: Settings) -> Generator:
    from adaptrag.rag.generators.openai import OpenAIGenerator

    return OpenAIGenerator.from_section(settings.openai)


BUILT_IN = (
    Backend(
        "local",
        _local,
        section="local_model",
        takes_adapters=True,
        description="the local transformers model, with the domain's LoRA adapter",
    ),
    Backend(
        "claude",
        _claude,
        section="claude",
        configured=_claude_configured,
        description="Claude through the Anthropic API",
    ),
    Backend(
        "openai",
        _openai,
        section="openai",
        takes_adapters=True,
        configured=lambda settings: bool(settings.openai.openai_base_url),
        description="an OpenAI-compatible inference server such as vLLM, serving the adapters",
    ),
)
_registered: dict[str, Backend] = {}


def _checked(backend: Any, where: str) -> Backend:
    if callable(backend) and not isinstance(backend, Backend):
        backend = backend()
    if not isinstance(backend, Backend):
        raise ConfigError(f"{where} is not an adaptrag Backend (adaptrag.rag.generators.Backend)")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", backend.name) or backend.name == AUTO:
        raise ConfigError(
            f"backend name {backend.name!r} ({where}) must be lower-case letters, digits, "
            "'_' or '-', 32 at most, and not 'auto'"
        )
    return backend


def register_backend(backend: Backend) -> None:
    """Make `backend` available in this process; it takes precedence over a built-in or
    installed backend of the same name."""
    _registered[backend.name] = _checked(backend, "register_backend's argument")


@functools.cache
def _installed() -> dict[str, Backend]:
    from importlib.metadata import entry_points

    found: dict[str, Backend] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            backend = _checked(point.load(), f"entry point {point.value}")
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            logger.warning(
                "backend %s (%s) could not be loaded and is not used: %s",
                point.name,
                point.dist.name if point.dist else "?",
                exc,
            )
            continue
        found[backend.name] = backend
    return found


def forget_installed_backends() -> None:
    """Look for installed backends again on next use (after installing a package)."""
    _installed.cache_clear()


def backends() -> dict[str, Backend]:
    """Every backend by name: built in, then installed packages', then registered; later
    ones win."""
    return {**{b.name: b for b in BUILT_IN}, **_installed(), **_registered}


def backend(name: str) -> Backend:
    """The backend named `name`; an unknown name is a one-line error listing them."""
    known = backends()
    if name not in known:
        raise ConfigError(
            f"unknown backend {name!r}; use one of {', '.join([AUTO, *known])} (a package "
            f"adds one through the {ENTRY_POINT_GROUP!r} entry point group)"
        )
    return known[name]


def backend_names() -> tuple[str, ...]:
    """What a request may ask for: `auto` and every backend's name."""
    return (AUTO, *backends())


def adapter_backends() -> tuple[str, ...]:
    """The backends adapters run on (`takes_adapters`)."""
    return tuple(name for name, b in backends().items() if b.takes_adapters)
