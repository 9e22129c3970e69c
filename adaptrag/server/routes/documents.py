"""The documents of a domain: list, read back, delete (a key's domain and ingest rights)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from adaptrag.ingest.documents import delete_in, document_in, documents_in
from adaptrag.server.dependencies import Caller, ServerDep
from adaptrag.server.responses import DeletedOut, DocumentOut, StoredDocumentOut

router = APIRouter()
DomainQuery = Query(..., description="The domain the documents belong to.")


@router.get(
    "/v1/documents",
    summary="The documents of a domain: chunks, pages, size, ingest time",
    response_model=list[DocumentOut],
)
async def list_documents(
    caller: Caller, server: ServerDep, domain: str = DomainQuery
) -> list[dict[str, Any]]:
    """Every document of `domain` the key may read, by id."""
    caller.check_domain(domain)
    infos = await server.blocking(documents_in, server.qa.retriever.store, domain)
    return [server.paths.metadata(i.to_dict()) for i in infos]


@router.get(
    "/v1/documents/{doc_id:path}",
    summary="One document as stored: its record and its chunks' text, page by page",
    response_model=StoredDocumentOut,
)
async def get_document(
    doc_id: str, caller: Caller, server: ServerDep, domain: str = DomainQuery
) -> dict[str, Any]:
    """One document of `domain` (404 when the domain holds no such id)."""
    caller.check_domain(domain)
    stored = await server.blocking(document_in, server.qa.retriever.store, domain, doc_id)
    return server.paths.metadata(stored.to_dict())


@router.delete(
    "/v1/documents/{doc_id:path}",
    summary="Delete one document: all its chunks, in one operation (needs the ingest right)",
    response_model=DeletedOut,
)
async def delete_document(
    doc_id: str, caller: Caller, server: ServerDep, domain: str = DomainQuery
) -> dict[str, Any]:
    """Delete one document of `domain`; a key needs the ingest right on the domain."""
    caller.check_ingest(domain)
    chunks = await server.blocking(delete_in, server.qa.retriever.store, domain, doc_id)
    return {"deleted": doc_id, "domain": domain, "chunks": chunks}
