"""The HTTP API (FastAPI): ask, stream, retrieve, ingest, collections, adapters, health.

`create_app` assembles it: the `Guard` in front (key checked and body measured before a
route reads anything), the request log and metrics, the error handlers (one body shape),
and one router per resource (`adaptrag.server.routes`). The routes share one `Server`
(settings, pipeline, keys, metrics, ingest jobs) through FastAPI dependencies. A key's
domain rules go into the store filter of each query (`Access.scope`). Blocking work runs
on worker threads under `ADAPTRAG_REQUEST_TIMEOUT_S`, a deadline the work itself obeys, so
a slow Claude call never holds up a local request and a timed-out generation stops.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.infra.tracing import configure_tracing
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.server.auth import Keyring
from adaptrag.server.coalesce import CoalescingEmbedder
from adaptrag.server.dependencies import Server
from adaptrag.server.errors import install_error_handlers
from adaptrag.server.guard import Guard
from adaptrag.server.jobs import clear_uploads
from adaptrag.server.mcp import mcp_app
from adaptrag.server.metrics import observe_requests
from adaptrag.server.routes import answers, catalog, documents, health, ingest, openai_compat
from adaptrag.version import __version__

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and fields around the files


def create_app(
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    keys: Keyring | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """The API over one pipeline (built from `settings` when not given)."""
    configure_tracing(settings.tracing.tracing)
    keyring = keys if keys is not None else Keyring.from_settings(settings)
    # Concurrent requests share query-embedding batches.
    qa = pipeline or Pipeline(
        settings, embedder=CoalescingEmbedder(SentenceTransformerEmbedder.from_settings(settings))
    )
    server = Server(settings, qa, keyring)
    mcp = mcp_app(server)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clear_uploads(settings)  # what a killed server left behind
        if warm_up:
            threading.Thread(target=server.warm, name="adaptrag-warm-up", daemon=True).start()
        else:
            server.ready.set()
        async with mcp.router.lifespan_context(mcp):  # the MCP session manager
            yield
        await anyio.to_thread.run_sync(server.close_jobs)
        if pipeline is None:
            qa.close()

    app = FastAPI(
        title="adaptrag",
        version=__version__,
        summary="Question answering over your documents: hybrid retrieval on Qdrant, local "
        "LoRA-adapted models or Claude.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.state.pipeline = qa
    # Added first, so it runs inside the request log: a 401 or 413 is logged and counted.
    app.add_middleware(
        Guard,
        keyring=keyring,
        max_body_bytes=int(settings.server.max_body_kb * 1024),
        max_upload_bytes=int(settings.server.max_upload_mb * 1024 * 1024) + FORM_OVERHEAD_BYTES,
    )
    observe_requests(app, server.metrics)
    install_error_handlers(app, server.message_of)
    routers = (answers, openai_compat, ingest, documents, catalog, health)
    for router in (r.router for r in routers):
        app.include_router(router)
    app.router.routes.extend(mcp.routes)  # /mcp, behind the Guard like every route
    return app
