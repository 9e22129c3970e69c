"""The documents of a domain: list them, read one back, delete one.

What the store holds is the record (as for sync, `ingest/sync.py`): every chunk carries
its document's id, version (`content_hash`), chunk count, source, title, page and ingest
time, so there is no side file to drift. Deleting a document is one delete-by-filter
operation on its domain and id: Qdrant logs it in its write-ahead log before applying it,
so a process killed at any moment leaves, once the collection is opened again, either the
whole document or none of it (tests/ingest/test_documents.py kills one to prove it).

    from adaptrag.ingest import list_documents, get_document, delete_document
    for info in list_documents("legal"): print(info.doc_id, info.chunks, info.pages)
    delete_document("legal", "contracts/nda.pdf")
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from adaptrag.rag.errors import DocumentNotFoundError
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.rag.stores import VectorStore, Where, store_for
from adaptrag.rag.types import whole_number

_FIELDS = (
    "doc_id",
    "title",
    "source",
    "source_root",
    "format",
    "content_hash",
    "chunk_count",
    "chunk_index",
    "pages",
    "page",
    "ingested_at",
    "text",
)


@dataclass(frozen=True)
class DocumentInfo:
    """One stored document: where it came from and what it became.

    `pages` is the page count of a paged source (PDF), None otherwise or for a document
    stored before pages were kept; `complete` is False while a version is partly stored (a
    run was stopped midway: the next ingest embeds it again).
    """

    doc_id: str
    domain: str
    title: str
    source: str
    source_root: str
    format: str
    chunks: int
    characters: int
    pages: int | None
    ingested_at: str
    content_hash: str
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class StoredText:
    """A document read back from the store: its record and its chunks' text in order,
    each with its page where known."""

    info: DocumentInfo
    chunks: list[tuple[int | None, str]]

    @property
    def text(self) -> str:
        """The chunks joined (overlapping chunks repeat their shared words)."""
        return "\n\n".join(text for _, text in self.chunks)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: the record, and the chunks with their pages."""
        return {
            **self.info.to_dict(),
            "chunk_texts": [{"page": page, "text": text} for page, text in self.chunks],
        }


def _grouped(store: VectorStore, where: Where) -> dict[str, list[dict[str, Any]]]:
    """The payloads of the chunks `where` matches, by doc_id."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    if store.spec() is None:
        return grouped
    for payload in store.scroll(where, _FIELDS):
        grouped.setdefault(str(payload.get("doc_id", "")), []).append(payload)
    return grouped


def _current(payloads: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The newest chunk's payload, and the chunks of its version (the document as it is)."""
    newest = max(payloads, key=lambda p: str(p.get("ingested_at", "")))
    version = str(newest.get("content_hash", ""))
    return newest, [p for p in payloads if str(p.get("content_hash", "")) == version]


def _info(doc_id: str, domain: str, payloads: list[dict[str, Any]]) -> DocumentInfo:
    return _record(doc_id, domain, *_current(payloads), stored=len(payloads))


def _record(
    doc_id: str, domain: str, newest: dict[str, Any], current: list[dict[str, Any]], stored: int
) -> DocumentInfo:
    """A document's record from its newest chunk, its current version's chunks and the
    number of chunks stored under its id (every version)."""
    return DocumentInfo(
        doc_id=doc_id,
        domain=domain,
        title=str(newest.get("title", "")),
        source=str(newest.get("source", "")),
        source_root=str(newest.get("source_root", "")),
        format=str(newest.get("format", "")),
        chunks=len(current),
        characters=sum(len(str(p.get("text", ""))) for p in current),
        pages=whole_number(newest.get("pages")),
        ingested_at=str(newest.get("ingested_at", "")),
        content_hash=str(newest.get("content_hash", "")),
        complete=len(current) == int(newest.get("chunk_count", 0) or 0) and len(current) == stored,
    )


def documents_in(store: VectorStore, domain: str) -> list[DocumentInfo]:
    """Every document of `domain` in `store`, by id."""
    grouped = _grouped(store, Where(equals={"domain": domain}))
    return [_info(doc_id, domain, grouped[doc_id]) for doc_id in sorted(grouped)]


def document_in(store: VectorStore, domain: str, doc_id: str) -> StoredText:
    """One document of `domain`: its record and its text; `DocumentNotFoundError` if none."""
    payloads = _grouped(store, Where(equals={"domain": domain, "doc_id": doc_id})).get(doc_id)
    if not payloads:
        raise _not_found(store, domain, doc_id)
    newest, current = _current(payloads)
    info = _record(doc_id, domain, newest, current, stored=len(payloads))
    current.sort(key=lambda p: int(p.get("chunk_index", 0)))
    chunks = [(whole_number(p.get("page")), str(p.get("text", ""))) for p in current]
    return StoredText(info, chunks)


def delete_in(store: VectorStore, domain: str, doc_id: str) -> int:
    """Delete every chunk of one document (every version) in one operation; the number of
    chunks deleted. `DocumentNotFoundError` if the domain holds no such document."""
    where = Where(equals={"domain": domain, "doc_id": doc_id})
    found = store.count(where) if store.spec() is not None else 0
    if not found:
        raise _not_found(store, domain, doc_id)
    store.delete(where)
    return found


def _not_found(store: VectorStore, domain: str, doc_id: str) -> DocumentNotFoundError:
    known = sorted(store.facet("doc_id", Where(equals={"domain": domain}))) if store.spec() else []
    near = difflib.get_close_matches(doc_id, known, n=3, cutoff=0.4)
    hint = (
        f"; did you mean {', '.join(near)}?"
        if near
        else (f"; list them with `adaptrag documents list --domain {domain}`")
    )
    return DocumentNotFoundError(f"no document {doc_id!r} in domain {domain!r}{hint}")


@contextmanager
def _opened(
    settings: Settings | None, collection: str | None, store: VectorStore | None
) -> Iterator[VectorStore]:
    if store is not None:
        yield store
        return
    opened = store_for(settings or load_settings(), collection)
    try:
        yield opened
    finally:
        opened.close()


def list_documents(
    domain: str,
    *,
    settings: Settings | None = None,
    collection: str | None = None,
    store: VectorStore | None = None,
) -> list[DocumentInfo]:
    """The documents of `domain` (source, chunks, pages, size, ingest time), by id."""
    with _opened(settings, collection, store) as opened:
        return documents_in(opened, domain)


def get_document(
    domain: str,
    doc_id: str,
    *,
    settings: Settings | None = None,
    collection: str | None = None,
    store: VectorStore | None = None,
) -> StoredText:
    """One document of `domain` as stored: its record and its chunks' text, in order."""
    with _opened(settings, collection, store) as opened:
        return document_in(opened, domain, doc_id)


def delete_document(
    domain: str,
    doc_id: str,
    *,
    settings: Settings | None = None,
    collection: str | None = None,
    store: VectorStore | None = None,
) -> int:
    """Delete one document of `domain` (all its chunks, atomically); the chunks deleted.

    A later ingest of its file adds it again; to keep it out, remove or exclude the file.
    """
    with _opened(settings, collection, store) as opened:
        return delete_in(opened, domain, doc_id)
