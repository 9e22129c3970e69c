"""The models and store a `Pipeline` answers with, each built on first use and then reused.

Private to `rag`: code outside it reaches them through `Pipeline`'s `retriever`,
`generator(backend)`, `adapters` and `collection` (the layer test holds this).

`Parts` holds what the settings name: the retriever (store + embedder + reranker), one
generator per backend, and the adapter provider. The provider is injected: passed to the
pipeline, or made by the factory the application layer installs (`use_adapters`; `adaptrag`
installs the registry's runtime, `adaptrag.adapters.runtime.AdapterRuntime.from_settings`).
With none installed a pipeline answers with the base model and names no adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from adaptrag.rag.answering.router import AdapterChoice, AdapterProvider
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators import Generator, make_generator
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from adaptrag.rag.retrieval.reranker import CrossEncoderReranker
from adaptrag.rag.retrieval.retriever import Fusion, Retriever, SearchOptions
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import VectorStore, store_for


class BaseModelOnly:
    """The adapter provider of a pipeline with no adapter runtime: the base model only."""

    def active(self, domain: str) -> AdapterChoice | None:
        """No domain has an adapter."""
        return None

    def resolve(self, ref: str) -> AdapterChoice:
        """Every named adapter is unknown."""
        raise ConfigError(f"no adapter runtime is installed, so adapter {ref!r} cannot load")

    def bind(self, generator: Generator, adapter: AdapterChoice | None) -> Generator:
        """The base model as it is (no adapter can have been resolved)."""
        return generator


AdapterFactory = Callable[[Settings], AdapterProvider]
_adapter_factory: list[AdapterFactory] = [lambda settings: BaseModelOnly()]


def use_adapters(factory: AdapterFactory) -> None:
    """How a pipeline given no `adapters=` makes its provider from its settings (the
    application layer installs the registry's runtime when `adaptrag` is imported)."""
    _adapter_factory[0] = factory


class Parts:
    """The retriever, the generators and the adapter provider of one pipeline.

    Args: as `Pipeline`'s (each part given is used instead of one built from settings; a
    store given is the caller's to close).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        collection: str | None = None,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        generators: Mapping[str, Generator] | None = None,
        adapters: AdapterProvider | None = None,
    ) -> None:
        self.settings = settings
        self.collection = collection or settings.store.collection
        self.search_options = SearchOptions.from_section(settings.retrieval)
        self._embedder = embedder
        self._store = store
        self._own_store = store is None
        self._generators: dict[str, Generator] = dict(generators or {})
        self._retriever: Retriever | None = None
        self._adapters = adapters
        self._lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        """The retriever over the collection (opening the store and the embedder)."""
        with self._lock:
            if self._retriever is None:
                settings = self.settings
                self._store = self._store or store_for(settings, self.collection)
                self._retriever = Retriever(
                    self._store,
                    self._embedder or SentenceTransformerEmbedder.from_settings(settings),
                    reranker=CrossEncoderReranker.from_settings(settings),
                    rerank_candidates=settings.retrieval.rerank_candidates,
                    fusion=Fusion.from_section(settings.retrieval),
                    content_words_over=settings.retrieval.content_words_over,
                    fill_after_merge=settings.retrieval.fill_after_merge,
                )
            return self._retriever

    def generator(self, backend: str) -> Generator:
        """The generator of a backend ("local", "claude" or "openai"), built once."""
        with self._lock:
            if backend not in self._generators:
                self._generators[backend] = make_generator(backend, self.settings)
            return self._generators[backend]

    @property
    def adapters(self) -> AdapterProvider:
        """Where domain adapters come from (the installed factory's provider by default)."""
        with self._lock:
            if self._adapters is None:
                self._adapters = _adapter_factory[0](self.settings)
            return self._adapters

    def close(self) -> None:
        """Release the store (the embedded store's lock on the data dir) and connections."""
        for generator in self._generators.values():
            generator.close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None
            self._retriever = None
