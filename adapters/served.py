"""Registry adapters served by an OpenAI-compatible server (vLLM with `--enable-lora`).

An adapter `name/vN` is served as `name-vN` (`served_name`). Before its first use:
1. the server's base model is checked against the base the adapter was trained on (by id or
   by folder name: `HuggingFaceTB/SmolLM2-135M-Instruct` = `/models/SmolLM2-135M-Instruct`);
   a mismatch is a one-line error naming both;
2. an adapter the server already declares (`--lora-modules name-vN=...`, or one whose `root`
   ends with `name/vN`) is used as it is, if its `parent` is that base;
3. otherwise it is loaded at run time (`POST /v1/load_lora_adapter`) from the registry
   folder as the server sees it (`ADAPTRAG_OPENAI_ADAPTERS_DIR`, default: the same path).
The server's own LRU (`--max-loras`) decides which adapters sit on the GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import cast

from adaptrag.rag.answering.router import AdapterChoice
from adaptrag.rag.errors import AdaptragError, ConfigError, NotServedError
from adaptrag.rag.generators import make_generator
from adaptrag.rag.generators.base import AdapterServer, Generation, ServedModel
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings import Settings


def served_name(adapter: AdapterChoice) -> str:
    """The name an adapter is served under: `legal/v2` -> `legal-v2`."""
    return adapter.ref.replace("/", "-")


def same_base(trained_on: str, served: ServedModel) -> bool:
    """Whether the served base is the model an adapter was trained on (by id or folder name)."""
    if not trained_on:
        return False
    wanted = PurePosixPath(trained_on.rstrip("/")).name.lower()
    for name in (served.id, served.root):
        if name and (name == trained_on or PurePosixPath(name.rstrip("/")).name.lower() == wanted):
            return True
    return False


class ServedAdapters:
    """Makes registry adapters available on a server, once each; safe for threads."""

    def __init__(self, registry_root: Path, server_dir: str | None = None) -> None:
        self.registry_root = registry_root
        self.server_dir = server_dir
        self._ready: dict[tuple[int, str, str], str] = {}  # (server, ref, path) -> served name
        self._lock = threading.Lock()

    def server_path(self, adapter: AdapterChoice) -> str:
        """The adapter's folder as the server reads it."""
        if not self.server_dir:
            return adapter.path
        relative = Path(adapter.path).relative_to(self.registry_root).as_posix()
        return f"{self.server_dir.rstrip('/')}/{relative}"

    def name(self, server: AdapterServer, adapter: AdapterChoice) -> str:
        """The name `adapter` is served under, checked and loaded on `server` first if needed."""
        name = served_name(adapter)
        key = (id(server), adapter.ref, adapter.path)
        with self._lock:
            if key in self._ready:
                return self._ready[key]
            base = server.base()
            if not same_base(adapter.base_model, base):
                raise ConfigError(
                    f"adapter {adapter.ref} was trained on {adapter.base_model!r}, but the "
                    f"server serves {base.id!r}; serve {adapter.base_model} "
                    "(ADAPTRAG_OPENAI_MODEL) or retrain the adapter on this model"
                )
            declared = self._declared(server, adapter, name)
            if declared is None:
                self._load(server, adapter, name)
            elif declared.parent != base.id:
                raise ConfigError(
                    f"the server serves {declared.id!r} on base {declared.parent!r}, but "
                    f"{adapter.ref} needs {base.id!r}; fix the server's --lora-modules"
                )
            else:
                name = declared.id
            self._ready[key] = name
            return name

    def generate_many(
        self,
        server: AdapterServer,
        prompts: Sequence[Prompt],
        adapters: Sequence[AdapterChoice | None],
        *,
        max_new_tokens: int,
    ) -> list[Generation]:
        """Each prompt by its adapter's served name (None: the base model). A server that
        no longer serves an adapter it had (restarted, or another replica behind the same
        URL) gets it loaded again, and the batch is asked once more."""
        for attempt in (1, 2):
            names = [None if a is None else self.name(server, a) for a in adapters]
            try:
                return server.generate_many(prompts, max_new_tokens=max_new_tokens, models=names)
            except NotServedError:
                if attempt == 2 or all(a is None for a in adapters):
                    raise
                self._lost(server)
        raise AssertionError("unreachable")

    def stream(
        self,
        server: AdapterServer,
        prompt: Prompt,
        adapter: AdapterChoice | None,
        *,
        max_new_tokens: int,
    ) -> Iterator[str | Generation]:
        """`generate_many`'s one prompt as a stream (the server refuses an unknown name
        before any text, so the retry never repeats text)."""
        name = None if adapter is None else self.name(server, adapter)
        events = server.stream(prompt, max_new_tokens=max_new_tokens, model=name)
        try:
            first = next(events)
        except NotServedError:
            if adapter is None:
                raise
            self._lost(server)
            name = self.name(server, adapter)
            events = server.stream(prompt, max_new_tokens=max_new_tokens, model=name)
            first = next(events)
        yield first
        yield from events

    def _lost(self, server: AdapterServer) -> None:
        """Forget what this server was known to serve; it is checked again on next use."""
        with self._lock:
            self._ready = {k: n for k, n in self._ready.items() if k[0] != id(server)}
        server.served(refresh=True)

    def forget(self, server: AdapterServer, adapter: AdapterChoice) -> bool:
        """Unload a deleted adapter from the server; False when the server keeps it (it
        does not allow unloading, or does not serve it)."""
        with self._lock:
            self._ready = {k: n for k, n in self._ready.items() if k[1] != adapter.ref}
            name = served_name(adapter)
            if all(m.id != name for m in server.served(refresh=True)):
                return False
            return server.unload_adapter(name)

    def _declared(
        self, server: AdapterServer, adapter: AdapterChoice, name: str
    ) -> ServedModel | None:
        """The server's entry for this adapter, if it serves it already."""
        suffix = PurePosixPath(adapter.ref).parts
        for refresh in (False, True):
            for model in server.served(refresh=refresh):
                if model.parent is None:
                    continue
                root = PurePosixPath(model.root.rstrip("/")).parts
                if model.id == name or (len(root) >= 2 and root[-2:] == suffix):
                    return model
        return None

    def _load(self, server: AdapterServer, adapter: AdapterChoice, name: str) -> None:
        path = self.server_path(adapter)
        if not server.load_adapter(name, path):
            raise ConfigError(
                f"the server does not serve adapter {name!r} ({adapter.ref}) and does not "
                "load adapters at run time; start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING="
                f"True, or with --lora-modules {name}={path}"
            )


def unserve(settings: Settings, adapter: AdapterChoice) -> str:
    """Unload a deleted adapter from the configured inference server; what happened, in
    words ("" when no server is configured). The registry's deletion stands either way."""
    if not settings.openai.openai_base_url:
        return ""
    server = cast("AdapterServer", make_generator("openai", settings))
    try:
        unloaded = ServedAdapters(Path(adapter.path).parents[1]).forget(server, adapter)
    except AdaptragError as error:
        return f"the inference server may still serve it: {error}"
    finally:
        server.close()
    if unloaded:
        return f"unloaded {served_name(adapter)} from the inference server"
    return "the inference server was not serving it"
