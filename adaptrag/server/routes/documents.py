"""The documents of a domain: list, read back, delete (a key's domain and ingest rights)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from adaptrag.ingest.documents import delete_in, document_in, documents_in
from adaptrag.ingest.pdf import MAX_RENDER_WIDTH, render_page
from adaptrag.rag.errors import DocumentNotFoundError
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
    "/v1/documents/{doc_id:path}/pages/{page}",
    summary="One page of a PDF document as an image, to show a citation's boxes on",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The page as a PNG."}},
)
async def get_page(
    doc_id: str,
    caller: Caller,
    server: ServerDep,
    page: int = Path(..., ge=1, description="The page, from 1."),
    domain: str = DomainQuery,
    width: int = Query(
        1000, ge=100, le=MAX_RENDER_WIDTH, description="The image's width in pixels."
    ),
) -> Response:
    """Page `page` of a PDF document of `domain`, rendered from the file it was ingested
    from (the `boxes` of a citation are in thousandths of this image's width and height).
    404 when the document is no PDF, the file is gone or changed, or the page is out of
    range."""
    caller.check_domain(domain)
    stored = await server.blocking(document_in, server.qa.retriever.store, domain, doc_id)
    if stored.info.format != "pdf":
        raise DocumentNotFoundError(f"{doc_id} is not a PDF: it has no page images")
    expect = next((text for at, text in stored.chunks if at == page), "")
    image = await server.blocking(render_page, stored.info.source, page, width, expect)
    return Response(image, media_type="image/png", headers={"Cache-Control": "private"})


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
