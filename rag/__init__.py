"""adaptrag's core: settings, embeddings, vector stores and the shared types.

from rag import Settings, load_settings
settings = load_settings()          # ADAPTRAG_* environment variables and YAML
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
from rag.settings import Settings, load_settings
from rag.types import Chunk, Document, Source, SparseVector

__all__ = [
    "AdaptragError",
    "BackendError",
    "Chunk",
    "CollectionNotFoundError",
    "ConfigError",
    "Document",
    "Embedder",
    "EmbeddingMismatchError",
    "ModelLoadError",
    "SentenceTransformerEmbedder",
    "Settings",
    "Source",
    "SparseVector",
    "StoreBusyError",
    "StoreError",
    "load_settings",
]
