"""Serving adapters: one base model in memory, adapters loaded once and chosen per request.

The first adapter wraps the local generator's model in a `PeftModel`; later ones are loaded
beside it (at most `max_loaded`, least recently used evicted, never one in use). Every
generation names its adapter per row (`adapter_names=`, "__base__" for the base model), so a
batch may mix domains and no request depends on a globally "active" adapter: concurrent
requests cannot see each other's weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.registry import AdapterInfo, AdapterRegistry, base_fingerprint
from rag.errors import ConfigError
from rag.generators.base import Generation
from rag.prompts import Prompt
from rag.router import AdapterChoice

if TYPE_CHECKING:  # the model library loads only when a model does
    from rag.generators.local import LocalGenerator

BASE = "__base__"


class AdapterRuntime:
    """The `AdapterProvider` of `rag.Pipeline`, backed by the registry under the data dir."""

    def __init__(self, registry: AdapterRegistry, *, max_loaded: int = 8) -> None:
        self.registry = registry
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[str, Path] = OrderedDict()  # PEFT name -> folder, LRU order
        self._in_use: dict[str, int] = {}
        self._fingerprints: dict[int, str] = {}
        self._lock = threading.Lock()

    # --- lookup --------------------------------------------------------------------------

    def active(self, domain: str) -> AdapterChoice | None:
        """The domain's active adapter, if any."""
        info = self.registry.active(domain)
        return None if info is None else AdapterChoice(info.ref, info.domain, info.beats_base())

    def resolve(self, ref: str) -> AdapterChoice:
        """The adapter named `ref`."""
        info = self.registry.get(ref)
        return AdapterChoice(info.ref, info.domain, info.beats_base())

    # --- loading -------------------------------------------------------------------------

    def fingerprint(self, generator: LocalGenerator) -> str:
        """The base model's fingerprint (computed once per generator)."""
        if id(generator) not in self._fingerprints:
            config = generator.hf_model.config.to_dict()
            self._fingerprints[id(generator)] = base_fingerprint(config, generator.tokenizer)
        return self._fingerprints[id(generator)]

    def _check_base(self, generator: LocalGenerator, info: AdapterInfo) -> None:
        if info.base_fingerprint != self.fingerprint(generator):
            raise ConfigError(
                f"adapter {info.ref} was trained on base model {info.base_model!r} "
                f"(fingerprint {info.base_fingerprint}), not on {generator.model!r} "
                f"({self.fingerprint(generator)}); set ADAPTRAG_GENERATOR_MODEL="
                f"{info.base_model} or retrain the adapter on this model"
            )

    def _load(self, generator: LocalGenerator, name: str, path: Path) -> None:
        """Make adapter `name` (from `path`) available on the generator's model."""
        from peft import PeftModel

        if name in self._loaded:
            self._loaded.move_to_end(name)
            return
        with generator.lock:
            model = generator.hf_model
            if isinstance(model, PeftModel):
                model.load_adapter(str(path), adapter_name=name)
            else:
                model = PeftModel.from_pretrained(model, str(path), adapter_name=name)
                generator.attach_adapters(model)
            model.eval()
            self._loaded[name] = path
            self._evict(model)

    def _evict(self, model: Any) -> None:
        for name in list(self._loaded):
            if len(self._loaded) <= self.max_loaded:
                return
            if self._in_use.get(name, 0) == 0:
                # PEFT keeps one adapter "active"; we never rely on it (every call names its
                # adapters), but it must not be the one deleted.
                model.set_adapter(next(n for n in self._loaded if n != name))
                model.delete_adapter(name)
                del self._loaded[name]

    def _pin(self, generator: LocalGenerator, refs: Sequence[str | None]) -> list[str]:
        """Load and hold the adapters of a batch; their PEFT names, row by row."""
        names = []
        with self._lock:
            for ref in refs:
                if ref is None:
                    names.append(BASE)
                    continue
                info = self.registry.get(ref)
                self._check_base(generator, info)
                self._in_use[info.key] = self._in_use.get(info.key, 0) + 1
                self._load(generator, info.key, info.path)
                names.append(info.key)
        return names

    def _unpin(self, names: Sequence[str]) -> None:
        with self._lock:
            for name in names:
                if name != BASE:
                    self._in_use[name] -= 1

    def load_folder(self, generator: LocalGenerator, name: str, path: Path) -> None:
        """Load an adapter that is not registered yet (the promotion gate's candidate)."""
        with self._lock:
            self._load(generator, name, path)

    # --- generation ----------------------------------------------------------------------

    def generate_many(
        self,
        generator: LocalGenerator,
        prompts: Sequence[Prompt],
        refs: Sequence[str | None],
        *,
        max_new_tokens: int,
    ) -> list[Generation]:
        """One batch where each prompt uses its own adapter (None: the base model)."""
        if all(ref is None for ref in refs) and not generator.adapters_attached:
            return generator.generate_many(prompts, max_new_tokens=max_new_tokens)
        names = self._pin(generator, refs)
        try:
            return self.generate_named(generator, prompts, names, max_new_tokens=max_new_tokens)
        finally:
            self._unpin(names)

    def generate_named(
        self,
        generator: LocalGenerator,
        prompts: Sequence[Prompt],
        names: Sequence[str],
        *,
        max_new_tokens: int,
    ) -> list[Generation]:
        """Generate with already-loaded adapters given by PEFT name ("__base__" for none)."""
        return generator.generate_many(
            prompts, max_new_tokens=max_new_tokens, adapter_names=list(names)
        )

    def stream(
        self, generator: LocalGenerator, prompt: Prompt, ref: str | None, *, max_new_tokens: int
    ) -> Iterator[str | Generation]:
        """Token deltas with one adapter, then the `Generation`."""
        if ref is None and not generator.adapters_attached:
            yield from generator.stream(prompt, max_new_tokens=max_new_tokens)
            return
        names = self._pin(generator, [ref])
        try:
            yield from generator.stream(prompt, max_new_tokens=max_new_tokens, adapter_names=names)
        finally:
            self._unpin(names)
