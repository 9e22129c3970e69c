"""Routing: which backend (and adapter) answers a question, and why.

The domain is the one asked for or, when absent, the one most retrieved chunks belong to.
"The model" below is the local transformers model, or, when an OpenAI-compatible server
is configured (ADAPTRAG_OPENAI_BASE_URL, e.g. vLLM), the model that server serves.
- `adapter=NAME`: the model with that adapter (an error with backend=claude);
  `adapter="base"`: the model without any adapter.
- `backend="local"` / `backend="openai"`: that model, with the domain's active adapter
  when it has one.
- `backend="claude"`: Claude.
- `backend="auto"`: the domain's active adapter on the model when it passed its gate;
  else Claude when an Anthropic key is configured and `prefer_claude` is on; else the
  base model.
The reason goes into `Answer.route`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.base import Generator
from adaptrag.rag.generators.registry import AUTO, adapter_backends, backend
from adaptrag.rag.infra.secrets import claude_configured
from adaptrag.rag.types import Source

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
    """Finds domain adapters and binds them to the model that runs them.

    The application installs `adapters.runtime.AdapterRuntime` over the registry in the
    data dir as every pipeline's default (`rag.answering.parts.use_adapters`); pass your own to
    `Pipeline(adapters=...)`.
    """

    def active(self, domain: str) -> AdapterChoice | None:
        """The domain's active adapter, if any."""
        ...

    def resolve(self, ref: str) -> AdapterChoice:
        """The adapter named `ref` (`name` or `name/vN`); unknown is a ConfigError."""
        ...

    def bind(self, generator: Generator, adapter: AdapterChoice | None) -> Generator:
        """`generator` answering with `adapter` (None: the base model): a `Generator` like
        any other, so the pipeline has one way to generate whoever answers."""
        ...


def infer_domain(sources: Sequence[Source]) -> str | None:
    """The domain most of the sources belong to (ties: the best-ranked one's)."""
    domains = [str(s.metadata["domain"]) for s in sources if s.metadata.get("domain")]
    if not domains:
        return None
    counts = Counter(domains)
    top = max(counts.values())
    return next(d for d in domains if counts[d] == top)


def check_backend(requested: str) -> None:
    """A one-line error for a backend name that does not exist (`auto` or a registered one)."""
    if requested != AUTO:
        backend(requested)


def model_backend(requested: str, *, served: bool) -> str:
    """Where "the model" runs for a request: the backend named when adapters run on it, or
    for the others (whose adapters and fallbacks run on the model) the inference server
    when one is configured, else the local model."""
    return requested if requested in adapter_backends() else ("openai" if served else "local")


def model_to_warm(requested: str, *, served: bool) -> str | None:
    """Where the model a deployment answering with `requested` runs (`model_backend`), to
    load it ahead of the first question: for `auto` and the backends adapters run on; None
    for the others (Claude, an installed API backend), which have no model to load."""
    if requested != AUTO and requested not in adapter_backends():
        return None
    return model_backend(requested, served=served)


def choose_backend(
    requested: str,
    *,
    prefer_claude: bool,
    domain: str | None = None,
    forced: AdapterChoice | None = None,
    active: AdapterChoice | None = None,
    served: bool = False,
) -> Route:
    """The route for a request by the policy in this module's docstring (`served`: an
    OpenAI-compatible server is configured, and takes the local model's place).
    `requested` is a backend name already checked (`check_backend`)."""
    model = model_backend(requested, served=served)
    if forced is not None and forced.ref == BASE_ADAPTER:
        if requested not in (AUTO, *adapter_backends()):
            raise ConfigError(f"adapter=base means the base model; drop backend={requested}")
        return Route(model, "base model requested")
    if forced is not None:
        if requested not in (AUTO, *adapter_backends()):
            raise ConfigError(
                "an adapter runs on the local model or an inference server; drop "
                f"backend={requested} or adapter="
            )
        return Route(model, f"adapter {forced.ref} requested", forced)
    if requested in adapter_backends():
        if active is not None:
            return Route(model, f"{model}: {domain}'s active adapter", active)
        return Route(model, "requested")
    if requested != AUTO:  # claude, or an installed backend adapters do not run on
        return Route(requested, "requested")
    if active is not None and active.beats_base:
        return Route(model, f"auto: {domain}'s adapter beats the base model", active)
    where = "the inference server" if served else "the local model"
    if not claude_configured():
        return Route(model, f"auto: no ANTHROPIC_API_KEY, so {where}")
    if not prefer_claude:
        return Route(model, f"auto: prefer_claude is off, so {where}")
    return Route("claude", "auto: ANTHROPIC_API_KEY is set and prefer_claude is on")
