"""Health, readiness and metrics: public, and saying nothing a stranger should not learn."""

from __future__ import annotations

import contextlib
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adaptrag.rag.errors import AdaptragError, CollectionNotFoundError, StoreError
from adaptrag.server.dependencies import ServerDep
from adaptrag.server.errors import ApiError, error_response
from adaptrag.server.responses import Ready, Status

router = APIRouter()
logger = logging.getLogger("adaptrag.server")
READY_PROBE_S = 10.0  # longest /readyz waits for a probe search before saying 503


@router.get("/healthz", summary="The process is up", response_model=Status)
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Models loaded, and a search through the store answers",
    responses={
        200: {"model": Ready, "description": "Ready."},
        503: {"description": "Not ready: `{error, type: not_ready}` with a generic reason."},
    },
)
async def readyz(server: ServerDep) -> JSONResponse:
    """Readiness: the store answers and the models are loaded (503 until then)."""
    # Public: the reasons stay generic here (no paths, names or errors), full in the log.
    if not server.ready.is_set():
        failed = server.warm_error is not None
        message = "models failed to load; see the server log" if failed else "loading models"
        return error_response(503, message, "not_ready")

    def probe() -> None:
        # One real search: the query embedding and the store, the path every ask takes.
        # Nothing ingested yet is ready: the store answered, which is what is asked.
        with contextlib.suppress(CollectionNotFoundError):
            server.qa.retrieve("readiness probe", top_k=1)

    limit_s = min(READY_PROBE_S, server.settings.server.request_timeout_s)
    try:
        await server.blocking(probe, limit_s=limit_s, grace_s=0)
    except ApiError:
        return error_response(503, f"a probe search took longer than {limit_s:g} s", "not_ready")
    except AdaptragError as error:
        logger.warning("readiness probe failed: %s", error)
        kind = "store" if isinstance(error, StoreError) else "query path"
        return error_response(503, f"the {kind} is not answering; see the server log", "not_ready")
    return JSONResponse({"status": "ready", "collection": server.qa.collection})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def prometheus(server: ServerDep) -> Response:
    """The Prometheus metrics, in the text exposition format."""
    return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)
