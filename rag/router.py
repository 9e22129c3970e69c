"""Routing: which backend (and adapter) answers a question, and why.

The domain is the one asked for or, when absent, the one most retrieved chunks belong to.
- `adapter=NAME`: the local model with that adapter (an error with backend=claude);
  `adapter="base"`: the local model without any adapter.
- `backend="local"`: the local model, with the domain's active adapter when it has one.
- `backend="claude"`: Claude.
- `backend="auto"`: the domain's active adapter when its stored held-out F1 beats the base
  model's; else Claude when an Anthropic key is configured and `prefer_claude` is on; else
  the base local model.
The reason goes into `Answer.route`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.errors import ConfigError
from rag.generators.base import Generation, Generator
from rag.prompts import Prompt
from rag.types import Source

BACKENDS = ("auto", "local", "claude")
BASE_ADAPTER = "base"  # adapter="base": the base model, even where a domain has an adapter


@dataclass(frozen=True)
class AdapterChoice:
    """A LoRA adapter, resolved once per request: everything needed to route and load it.

    `ref` is `name/vN`; `path` the PEFT folder; `base_model` / `base_fingerprint` the base
    model it was trained on (checked before it is loaded); `beats_base` whether its stored
    held-out score beat the base model's (what `backend="auto"` needs).
    """

    ref: str
    domain: str
    beats_base: bool
    path: str = ""
    base_model: str = ""
    base_fingerprint: str = ""


@dataclass(frozen=True)
class Route:
    """The backend and adapter chosen and the reason, as shown in the answer."""

    backend: str
    reason: str
    adapter: AdapterChoice | None = None

    @property
    def adapter_ref(self) -> str | None:
        """The adapter's `name/vN`, as the answer names it (None: no adapter)."""
        return self.adapter.ref if self.adapter else None


class AdapterProvider(Protocol):
    """Finds domain adapters and generates with them on the local model.

    The default is `adapters.runtime.AdapterRuntime` over the registry in the data dir,
    which `Pipeline` builds on first use; pass your own to `Pipeline(adapters=...)`.
    """

    def active(self, domain: str) -> AdapterChoice | None:
        """The domain's active adapter, if any."""
        ...

    def resolve(self, ref: str) -> AdapterChoice:
        """The adapter named `ref` (`name` or `name/vN`); unknown is a ConfigError."""
        ...

    def generate_many(
        self,
        generator: Generator,
        prompts: Sequence[Prompt],
        adapters: Sequence[AdapterChoice | None],
        *,
        max_new_tokens: int,
    ) -> list[Generation]:
        """Generations with each prompt's adapter (None: the base model), in one batch."""
        ...

    def stream(
        self,
        generator: Generator,
        prompt: Prompt,
        adapter: AdapterChoice | None,
        *,
        max_new_tokens: int,
    ) -> Iterator[str | Generation]:
        """`Generator.stream` with one adapter (None: the base model)."""
        ...


def infer_domain(sources: Sequence[Source]) -> str | None:
    """The domain most of the sources belong to (ties: the best-ranked one's)."""
    domains = [str(s.metadata["domain"]) for s in sources if s.metadata.get("domain")]
    if not domains:
        return None
    counts = Counter(domains)
    top = max(counts.values())
    return next(d for d in domains if counts[d] == top)


def claude_configured() -> bool:
    """Whether the environment holds Anthropic credentials the SDK will use."""
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def check_backend(requested: str) -> None:
    """A one-line error for a backend name that does not exist."""
    if requested not in BACKENDS:
        raise ConfigError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")


def choose_backend(
    requested: str,
    *,
    prefer_claude: bool,
    domain: str | None = None,
    forced: AdapterChoice | None = None,
    active: AdapterChoice | None = None,
) -> Route:
    """The route for a request by the policy in this module's docstring."""
    check_backend(requested)
    if forced is not None and forced.ref == BASE_ADAPTER:
        if requested == "claude":
            raise ConfigError("adapter=base means the local base model; drop backend=claude")
        return Route("local", "base model requested")
    if forced is not None:
        if requested == "claude":
            raise ConfigError("an adapter runs on the local model; drop backend=claude or adapter=")
        return Route("local", f"adapter {forced.ref} requested", forced)
    if requested == "local":
        if active is not None:
            return Route("local", f"local: {domain}'s active adapter", active)
        return Route("local", "requested")
    if requested == "claude":
        return Route("claude", "requested")
    if active is not None and active.beats_base:
        return Route("local", f"auto: {domain}'s adapter beats the base model", active)
    if not claude_configured():
        return Route("local", "auto: no ANTHROPIC_API_KEY, so the local model")
    if not prefer_claude:
        return Route("local", "auto: prefer_claude is off, so the local model")
    return Route("claude", "auto: ANTHROPIC_API_KEY is set and prefer_claude is on")
