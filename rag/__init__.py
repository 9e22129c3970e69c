"""adaptrag's core: the question-answering Pipeline, settings, embeddings, stores, types.

from rag import Pipeline, load_settings
qa = Pipeline(load_settings())      # ADAPTRAG_* environment variables and YAML
answer = qa.ask("What is the notice period?", domain="legal")
answer.text, answer.sources, answer.citations, answer.timings
"""

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
    ModelLoadError,
    StoreBusyError,
    StoreError,
)
from rag.pipeline import Pipeline
from rag.query import Query, QueryOptions
from rag.retrieval import SearchOptions
from rag.settings import Settings, load_settings
from rag.types import Answer, Chunk, Citation, Document, Source, SparseVector, Usage

__all__ = [
    "AdaptragError",
    "Answer",
    "BackendError",
    "Chunk",
    "Citation",
    "CollectionNotFoundError",
    "ConfigError",
    "Document",
    "Embedder",
    "EmbeddingMismatchError",
    "ModelLoadError",
    "Pipeline",
    "Query",
    "QueryOptions",
    "SearchOptions",
    "SentenceTransformerEmbedder",
    "Settings",
    "Source",
    "SparseVector",
    "StoreBusyError",
    "StoreError",
    "Usage",
    "load_settings",
]
