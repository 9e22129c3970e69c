"""adaptrag's core: the question-answering Pipeline, settings, embeddings, stores, types.

from adaptrag.rag import Pipeline, load_settings
qa = Pipeline(load_settings())      # ADAPTRAG_* environment variables and YAML
answer = qa.ask("What is the notice period?", domain="legal")
answer.text, answer.sources, answer.citations, answer.timings
"""

from adaptrag.rag.answering.async_pipeline import AsyncPipeline
from adaptrag.rag.answering.completion import complete, complete_stream
from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.query import Query, QueryOptions
from adaptrag.rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
    ModelLoadError,
    StoreBusyError,
    StoreError,
)
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from adaptrag.rag.retrieval.retriever import SearchOptions
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.rag.types import Answer, Chunk, Citation, Document, Source, SparseVector, Usage

__all__ = [
    "AdaptragError",
    "Answer",
    "AsyncPipeline",
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
    "complete",
    "complete_stream",
    "load_settings",
]
