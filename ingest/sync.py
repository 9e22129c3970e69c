"""Sync: what the store already holds for a domain, and what a run must do about it.

The manifest is read from the store itself (no side file to drift): every chunk carries
its document's `content_hash` and `chunk_count`, so a document version is complete when
all its chunks are present. That makes a run killed at any point safe to repeat: an
incomplete version is embedded again (chunk ids are deterministic, so upserts overwrite),
and stale versions are deleted only once the new one is complete.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from adaptrag.rag.stores import VectorStore, Where
from adaptrag.rag.types import Document

_CHUNK_NAMESPACE = uuid.UUID("5b0c6a52-6f0e-4c59-9a57-3c1f2f1f8e21")
MANIFEST_FIELDS = ("doc_id", "content_hash", "chunk_count", "source", "source_root")


def content_hash(document: Document) -> str:
    """Hash of what decides a document's chunks: its title, text and page breaks."""
    digest = hashlib.sha256()
    digest.update(document.title.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(document.text.encode("utf-8"))
    if document.page_starts:  # unpaged documents keep the hash they always had
        digest.update(b"\x00" + repr(document.page_starts).encode())
    return digest.hexdigest()


def chunk_id(domain: str, doc_id: str, document_hash: str, chunk_index: int) -> str:
    """Deterministic point id: the same chunk of the same version always gets the same id."""
    return str(
        uuid.uuid5(_CHUNK_NAMESPACE, f"{domain}\x1f{doc_id}\x1f{document_hash}\x1f{chunk_index}")
    )


@dataclass
class StoredDocument:
    """What the store holds for one doc_id: chunks present per content hash."""

    chunks_by_hash: dict[str, int] = field(default_factory=dict)
    expected_by_hash: dict[str, int] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    roots: set[str] = field(default_factory=set)

    def is_complete(self, document_hash: str) -> bool:
        """All chunks of this version are stored."""
        stored = self.chunks_by_hash.get(document_hash, 0)
        return stored > 0 and stored == self.expected_by_hash.get(document_hash)

    @property
    def chunk_total(self) -> int:
        """Chunks stored for this doc_id, every version counted."""
        return sum(self.chunks_by_hash.values())


def read_manifest(store: VectorStore, domain: str) -> dict[str, StoredDocument]:
    """Every document of `domain` in the store, by doc_id."""
    manifest: dict[str, StoredDocument] = defaultdict(StoredDocument)
    if store.spec() is None:
        return {}
    for payload in store.scroll(Where(equals={"domain": domain}), MANIFEST_FIELDS):
        entry = manifest[str(payload["doc_id"])]
        version = str(payload["content_hash"])
        entry.chunks_by_hash[version] = entry.chunks_by_hash.get(version, 0) + 1
        entry.expected_by_hash[version] = int(payload.get("chunk_count", 0))
        entry.sources.add(str(payload.get("source", "")))
        entry.roots.add(str(payload.get("source_root", "")))
    return dict(manifest)


class Action(StrEnum):
    """What a run does with one document."""

    ADD = "add"  # not stored yet
    UPDATE = "update"  # stored with other content (or an interrupted version): embed again
    CLEANUP = "cleanup"  # this version is stored whole, stale versions linger: delete them
    UNCHANGED = "unchanged"  # stored whole, nothing else: no work
    DELETE = "delete"  # gone from its root (--sync)


def classify(document_hash: str, stored: StoredDocument | None) -> Action:
    """The action for a document found on disk, given what the store holds for its id."""
    if stored is None or not stored.chunks_by_hash:
        return Action.ADD
    if not stored.is_complete(document_hash):
        return Action.UPDATE
    if len(stored.chunks_by_hash) > 1:
        return Action.CLEANUP
    return Action.UNCHANGED


def deletions(
    manifest: dict[str, StoredDocument],
    seen_doc_ids: set[str],
    roots: Iterable[str],
    failed_sources: set[str],
) -> list[str]:
    """Doc ids stored from `roots` that no run document claimed; never those of a file
    that failed to load this time (its documents are unknown, not gone)."""
    root_set = set(roots)
    return sorted(
        doc_id
        for doc_id, stored in manifest.items()
        if doc_id not in seen_doc_ids
        and stored.roots & root_set
        and not stored.sources & failed_sources
    )
