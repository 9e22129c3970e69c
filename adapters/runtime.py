"""Serving adapters: one base model in memory, adapters loaded once and chosen per request.

The first adapter wraps the local generator's model in a `PeftModel`; later ones are loaded
beside it (at most `max_loaded`, least recently used evicted, never one in use). Every
generation names its adapter per row (`adapter_names=`; `PEFT_BASE` is the base model), so a
batch may mix domains and no request depends on a globally "active" adapter: concurrent
requests cannot see each other's weights.

On an inference server (backend=openai) the server holds the adapters instead: each row is
sent to its adapter's served name (`adapters.served`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from adaptrag.adapters.compat import quiet_peft
from adaptrag.adapters.registry import AdapterInfo, AdapterRegistry, base_fingerprint
from adaptrag.adapters.served import ServedAdapters
from adaptrag.rag.answering.router import AdapterChoice
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.base import PEFT_BASE, AdapterServer, Generation, Generator
from adaptrag.rag.infra.load_timing import loading
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings import Settings

if TYPE_CHECKING:  # the model library loads only when a model does
    from adaptrag.rag.generators.local import LocalGenerator


def choice(info: AdapterInfo) -> AdapterChoice:
    """What a route carries of a registered adapter."""
    return AdapterChoice(
        ref=info.ref,
        domain=info.domain,
        beats_base=info.beats_base(),
        path=str(info.path),
        base_model=info.base_model,
        base_fingerprint=info.base_fingerprint,
    )


def peft_name(adapter: AdapterChoice) -> str:
    """The adapter's name inside a PEFT model (no dots or slashes allowed there)."""
    return adapter.ref.replace("/", "__")


def _adaptable(generator: Generator) -> LocalGenerator:
    """The local generator (adapters run on nothing else), or a one-line error."""
    if not hasattr(generator, "attach_adapters"):
        raise ConfigError(
            f"adapters run on the local model or an inference server, not on "
            f"backend={generator.backend}; use backend=local, backend=openai or no adapter"
        )
    return cast("LocalGenerator", generator)


def _server(generator: Generator) -> AdapterServer | None:
    """The generator as an adapter-serving inference server, if it is one."""
    return cast("AdapterServer", generator) if hasattr(generator, "load_adapter") else None


class AdapterRuntime:
    """The `AdapterProvider` of `rag.Pipeline`, backed by the registry under the data dir."""

    def __init__(
        self, registry: AdapterRegistry, *, max_loaded: int = 8, server_dir: str | None = None
    ) -> None:
        self.registry = registry
        self.max_loaded = max_loaded
        self.served = ServedAdapters(registry.root, server_dir)
        self._loaded: OrderedDict[str, str] = OrderedDict()  # PEFT name -> folder, LRU order
        self._in_use: dict[str, int] = {}
        self._fingerprints: dict[int, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AdapterRuntime:
        """The runtime over the registry in `settings.data_dir` (what `adaptrag` installs as
        every pipeline's default provider, `rag.answering.parts.use_adapters`)."""
        return cls(
            AdapterRegistry(settings.data_dir),
            max_loaded=settings.adapters.max_loaded_adapters,
            server_dir=settings.openai.openai_adapters_dir,
        )

    # --- lookup --------------------------------------------------------------------------

    def active(self, domain: str) -> AdapterChoice | None:
        """The domain's active adapter, if any."""
        info = self.registry.active(domain)
        return None if info is None else choice(info)

    def resolve(self, ref: str) -> AdapterChoice:
        """The adapter named `ref`."""
        return choice(self.registry.get(ref))

    # --- loading -------------------------------------------------------------------------

    def fingerprint(self, generator: LocalGenerator) -> str:
        """The base model's fingerprint (computed once per generator)."""
        if id(generator) not in self._fingerprints:
            config = generator.hf_model.config.to_dict()
            self._fingerprints[id(generator)] = base_fingerprint(config, generator.tokenizer)
        return self._fingerprints[id(generator)]

    def _check_base(self, generator: LocalGenerator, adapter: AdapterChoice) -> None:
        if adapter.base_fingerprint != self.fingerprint(generator):
            raise ConfigError(
                f"adapter {adapter.ref} was trained on base model {adapter.base_model!r} "
                f"(fingerprint {adapter.base_fingerprint}), not on {generator.model!r} "
                f"({self.fingerprint(generator)}); set ADAPTRAG_GENERATOR_MODEL="
                f"{adapter.base_model} or retrain the adapter on this model"
            )

    def _load(self, generator: LocalGenerator, name: str, path: str) -> None:
        """Make adapter `name` (from `path`) available on the generator's model."""
        from peft import PeftModel

        if self._loaded.get(name) == path:
            self._loaded.move_to_end(name)
            return
        with generator.lock, loading(), quiet_peft():
            model = generator.hf_model
            if isinstance(model, PeftModel):
                if name in self._loaded:  # the same ref, re-registered elsewhere: reload
                    model.delete_adapter(name)
                model.load_adapter(path, adapter_name=name)
            else:
                model = PeftModel.from_pretrained(model, path, adapter_name=name)
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

    def _pin(
        self, generator: LocalGenerator, adapters: Sequence[AdapterChoice | None]
    ) -> list[str]:
        """Load and hold the adapters of a batch; their PEFT names, row by row."""
        names = []
        with self._lock:
            for adapter in adapters:
                if adapter is None:
                    names.append(PEFT_BASE)
                    continue
                self._check_base(generator, adapter)
                name = peft_name(adapter)
                self._in_use[name] = self._in_use.get(name, 0) + 1
                self._load(generator, name, adapter.path)
                names.append(name)
        return names

    def _unpin(self, names: Sequence[str]) -> None:
        with self._lock:
            for name in names:
                if name != PEFT_BASE:
                    self._in_use[name] -= 1

    # --- generation ----------------------------------------------------------------------

    def bind(self, generator: Generator, adapter: AdapterChoice | None) -> Generator:
        """`generator` answering with `adapter` (None: the base model), as a `Generator`."""
        return BoundGenerator(self, generator, adapter)

    def generate_many(
        self,
        generator: Generator,
        prompts: Sequence[Prompt],
        adapters: Sequence[AdapterChoice | None],
        *,
        max_new_tokens: int,
    ) -> list[Generation]:
        """One batch where each prompt uses its own adapter (None: the base model)."""
        server = _server(generator)
        if server is not None:
            return self.served.generate_many(
                server, prompts, adapters, max_new_tokens=max_new_tokens
            )
        attached = getattr(generator, "adapters_attached", False)
        if all(adapter is None for adapter in adapters) and not attached:
            return generator.generate_many(prompts, max_new_tokens=max_new_tokens)
        local = _adaptable(generator)
        names = self._pin(local, adapters)
        try:
            return local.generate_many(prompts, max_new_tokens=max_new_tokens, adapter_names=names)
        finally:
            self._unpin(names)

    def stream(
        self,
        generator: Generator,
        prompt: Prompt,
        adapter: AdapterChoice | None,
        *,
        max_new_tokens: int,
    ) -> Iterator[str | Generation]:
        """Token deltas with one adapter, then the `Generation`."""
        server = _server(generator)
        if server is not None:
            yield from self.served.stream(server, prompt, adapter, max_new_tokens=max_new_tokens)
            return
        if adapter is None and not getattr(generator, "adapters_attached", False):
            yield from generator.stream(prompt, max_new_tokens=max_new_tokens)
            return
        local = _adaptable(generator)
        names = self._pin(local, [adapter])
        try:
            yield from local.stream(prompt, max_new_tokens=max_new_tokens, adapter_names=names)
        finally:
            self._unpin(names)


class BoundGenerator:
    """A generator answering with one adapter (None: the base model), as `AdapterRuntime.bind`
    returns it: the model in process through PEFT, or an inference server naming the adapter
    per request. Everything but generation is the generator's own; closing it leaves the
    generator to its pipeline."""

    def __init__(
        self, runtime: AdapterRuntime, generator: Generator, adapter: AdapterChoice | None
    ) -> None:
        self.runtime, self.generator, self.adapter = runtime, generator, adapter
        self.backend = generator.backend

    @property
    def model(self) -> str:
        """The base model's id (the answer names the adapter)."""
        return self.generator.model

    def prompt_budget(self, max_new_tokens: int) -> int:
        """The base model's prompt budget."""
        return self.generator.prompt_budget(max_new_tokens)

    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens `prompt` takes for the base model."""
        return self.generator.count_tokens(prompt)

    def load(self) -> None:
        """Load the base model."""
        self.generator.load()

    def generate(self, prompt: Prompt, *, max_new_tokens: int) -> Generation:
        """One completion with the adapter."""
        return self.generate_many([prompt], max_new_tokens=max_new_tokens)[0]

    def generate_many(self, prompts: Sequence[Prompt], *, max_new_tokens: int) -> list[Generation]:
        """Completions with the adapter, in one batch."""
        adapters = [self.adapter] * len(prompts)
        return self.runtime.generate_many(
            self.generator, prompts, adapters, max_new_tokens=max_new_tokens
        )

    def stream(self, prompt: Prompt, *, max_new_tokens: int) -> Iterator[str | Generation]:
        """Text deltas with the adapter, then the `Generation`."""
        return self.runtime.stream(
            self.generator, prompt, self.adapter, max_new_tokens=max_new_tokens
        )

    def close(self) -> None:
        """Nothing: the generator is its pipeline's to close."""
