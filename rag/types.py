"""Data types shared across packages, defined once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One source document as a loader read it, before chunking.

    `doc_id` is stable within a domain: the path relative to the ingested root, or the
    record id for multi-record files (JSONL, JSON, CSV).
    """

    doc_id: str
    text: str
    title: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedding model, in document order."""

    doc_id: str
    chunk_index: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SparseVector:
    """Hashed term weights: parallel lists of indices and values."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class Source:
    """A retrieved chunk with its score; `metadata` carries the stored payload."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
