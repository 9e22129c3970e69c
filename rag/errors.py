"""One exception hierarchy for adaptrag; every message names the problem and the fix.

The CLI and the HTTP server map these to exit codes and HTTP statuses in one place each;
nothing else catches broad exceptions.
"""

from __future__ import annotations


class AdaptragError(Exception):
    """Base of every error adaptrag raises on purpose."""


class ConfigError(AdaptragError, ValueError):
    """A setting, argument or input is wrong; the message says which and how to fix it."""


class EmbeddingMismatchError(ConfigError):
    """A collection was built with another embedding model (or prefixes) than the one asked for."""


class NotServedError(ConfigError):
    """An inference server does not serve the model or adapter name asked for."""


class StoreError(AdaptragError, RuntimeError):
    """The vector store failed or refused an operation."""


class StoreBusyError(StoreError):
    """An embedded data dir is held by another process (Qdrant Edge allows one opener)."""


class DiskFullError(StoreError):
    """Too little free disk space for the store to write (or, for Qdrant Edge, to open)."""


class CollectionNotFoundError(StoreError, LookupError):
    """The named collection does not exist."""


class DocumentNotFoundError(AdaptragError, LookupError):
    """No document of that id in that domain."""


class IngestCancelledError(AdaptragError):
    """An ingest run was stopped (Ctrl-C, SIGTERM, a cancelled HTTP job) before it ended;
    what it stored stays stored, and the same run again finishes the rest."""


class ModelLoadError(AdaptragError, RuntimeError):
    """A model could not be loaded from the id or path given."""


class BackendError(AdaptragError, RuntimeError):
    """A generation backend (local model or Claude) failed."""


class ModelBusyError(AdaptragError, TimeoutError):
    """A model is taken by other work for too long, or its waiting line is full; retry later."""


class UpstreamAuthError(BackendError):
    """A backend service (Claude) rejected the credentials this process was configured with."""
