"""The Generator seam: a prompt in, text out, with token counts; one module per backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adaptrag.rag.prompts import Prompt
from adaptrag.rag.types import Usage

PEFT_BASE = "__base__"
"""PEFT's own name for "no adapter" in `adapter_names=` (users say adapter="base")."""


@dataclass(frozen=True)
class Generation:
    """What a backend produced for one prompt."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    data: dict[str, Any] | None = None  # the arguments of the prompt's tool, when it was called


class Generator(Protocol):
    """Answers prompts; `stream` yields text deltas, then the whole `Generation`."""

    backend: str

    @property
    def model(self) -> str:
        """The model id answering (as configured)."""
        ...

    def prompt_budget(self, max_new_tokens: int) -> int:
        """Most prompt tokens this backend accepts, leaving room for `max_new_tokens`."""
        ...

    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens `prompt` takes for this backend (an upper estimate where no tokenizer)."""
        ...

    def generate(self, prompt: Prompt, *, max_new_tokens: int) -> Generation:
        """The completion of one prompt."""
        ...

    def generate_many(self, prompts: Sequence[Prompt], *, max_new_tokens: int) -> list[Generation]:
        """Completions of many prompts, in the caller's order (batched or concurrent)."""
        ...

    def stream(self, prompt: Prompt, *, max_new_tokens: int) -> Iterator[str | Generation]:
        """Text deltas as they are produced, then the `Generation`."""
        ...

    def load(self) -> None:
        """Load now what the first generation would wait for (a local model's weights);
        nothing where there is nothing to load (an API)."""
        ...

    def close(self) -> None:
        """Release connections (the model itself stays cached)."""
        ...


@dataclass(frozen=True)
class ServedModel:
    """One model an inference server lists: the base model, or a LoRA adapter (`parent` set)."""

    id: str
    root: str = ""  # what the server loaded it from (vLLM: the HF id or a path)
    parent: str | None = None  # a LoRA adapter's base model id
    max_model_len: int | None = None


class AdapterServer(Generator, Protocol):
    """A generator whose server serves LoRA adapters by name (`rag.generators.openai`)."""

    def base(self) -> ServedModel:
        """The served base model."""
        ...

    def served(self, *, refresh: bool = False) -> list[ServedModel]:
        """What the server serves (bases and adapters)."""
        ...

    def load_adapter(self, name: str, path: str) -> bool:
        """Load an adapter from a path the server reads; False: the server does not allow it."""
        ...

    def unload_adapter(self, name: str) -> bool:
        """Unload an adapter; False: the server does not allow it."""
        ...

    def generate_many(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        models: Sequence[str | None] | None = None,
    ) -> list[Generation]:
        """`Generator.generate_many`, each prompt by its served adapter (None: the base)."""
        ...

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, model: str | None = None
    ) -> Iterator[str | Generation]:
        """`Generator.stream` by a served adapter (None: the base)."""
        ...
