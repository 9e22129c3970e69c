"""adaptrag: question answering over your documents, with per-domain LoRA adapters, on Qdrant.

    from adaptrag import Pipeline, ingest_paths, load_settings

    ingest_paths(["contracts/"], domain="legal")
    qa = Pipeline(load_settings())      # ADAPTRAG_* environment variables and YAML
    answer = qa.ask("What is the notice period?", domain="legal")
    answer.text, answer.sources, answer.citations, answer.timings

`AsyncPipeline` is the same API for an event loop; `adaptrag.langchain` makes a pipeline a
LangChain retriever, runnable or chat model.

The names below are the public surface. The product's four jobs are packages of their own:
`adaptrag.rag` (the core), `adaptrag.ingest`, `adaptrag.adapters` and `adaptrag.eval`;
`adaptrag.cli` and `adaptrag.server` are the command and the HTTP server. None of these
imports a model library: models load on first use.
"""

from adaptrag.adapters.runtime import AdapterRuntime
from adaptrag.ingest import (
    IngestReport,
    delete_document,
    get_document,
    ingest_paths,
    list_documents,
)
from adaptrag.rag import Answer, AsyncPipeline, Chunk, Citation, Document, Pipeline, Query, Source
from adaptrag.rag.answering.parts import use_adapters
from adaptrag.rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    DiskFullError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    IngestCancelledError,
    ModelBusyError,
    ModelLoadError,
    NotServedError,
    StoreBusyError,
    StoreError,
    UpstreamAuthError,
)
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.version import __version__

# The application composes the layers: every pipeline given no `adapters=` gets the runtime
# over the adapter registry in its data dir (the core itself knows only the protocol).
use_adapters(AdapterRuntime.from_settings)

__all__ = [
    "AdaptragError",
    "Answer",
    "AsyncPipeline",
    "BackendError",
    "Chunk",
    "Citation",
    "CollectionNotFoundError",
    "ConfigError",
    "DiskFullError",
    "Document",
    "DocumentNotFoundError",
    "EmbeddingMismatchError",
    "IngestCancelledError",
    "IngestReport",
    "ModelBusyError",
    "ModelLoadError",
    "NotServedError",
    "Pipeline",
    "Query",
    "Settings",
    "Source",
    "StoreBusyError",
    "StoreError",
    "UpstreamAuthError",
    "__version__",
    "delete_document",
    "get_document",
    "ingest_paths",
    "list_documents",
    "load_settings",
]
