"""What the routes share: one `Server` per app (settings, pipeline, keys, metrics, jobs),
and the dependencies that hand it and the caller's `Access` to a route."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.router import model_to_warm
from adaptrag.rag.errors import AdaptragError
from adaptrag.rag.infra.deadline import DeadlineExceeded, time_limit
from adaptrag.rag.settings import Settings
from adaptrag.server.auth import OPEN_ACCESS, Access, Keyring
from adaptrag.server.errors import ApiError, timeout_error
from adaptrag.server.jobs import IngestJobQueue
from adaptrag.server.metrics import Metrics
from adaptrag.server.paths import PublicPaths

logger = logging.getLogger("adaptrag.server")
T = TypeVar("T")
GRACE_S = 5.0  # after the deadline, how long a request waits for its work to notice it


class Server:
    """The state of one running API: built by `create_app`, kept on `app.state.server`."""

    def __init__(self, settings: Settings, pipeline: Pipeline, keyring: Keyring) -> None:
        self.settings = settings
        self.qa = pipeline
        self.keyring = keyring
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self.timed_out: ApiError = timeout_error(settings)
        # What callers see of the server's files (sources, reports, errors).
        self.paths = PublicPaths(settings, self._stored_roots)
        self._jobs: IngestJobQueue | None = None
        self._jobs_lock = threading.Lock()

    def message_of(self, error: AdaptragError) -> str:
        """What a caller reads of one of our errors: a deadline as the request timeout
        (ADAPTRAG_REQUEST_TIMEOUT_S), anything else without the server's folders."""
        if isinstance(error, DeadlineExceeded):
            return str(self.timed_out)
        return self.paths.text(str(error))

    def _stored_roots(self) -> list[str]:
        """The folders the stored documents were ingested from (`source_root`)."""
        return list(self.qa.retriever.store.facet("source_root"))

    def warm(self) -> None:
        """Load the models (in a thread at startup); ready, or not ready and why."""
        try:
            self.qa.warm()
            served = bool(self.settings.openai.openai_base_url)
            if model_to_warm(self.settings.generation.backend, served=served) == "openai":
                self._check_server()
            self.ready.set()
        except AdaptragError as error:
            self.warm_error = str(error)
            logger.error("warm-up failed: %s", error)
        except Exception as error:  # never "loading models" forever: not ready, and why
            self.warm_error = f"{type(error).__name__}: {error}"
            logger.exception("warm-up failed")

    def _check_server(self) -> None:
        """Say in the log whether the inference server answers; it may start after us, so
        being unreachable now does not keep this server from being ready."""
        try:
            base: Any = self.qa.generator("openai")
            logger.info("inference server serves %s", base.base().id)
        except AdaptragError as error:
            logger.warning("inference server not usable yet: %s", error)

    @property
    def jobs(self) -> IngestJobQueue:
        """The ingest job queue, started on first use with the server's embedder and store."""
        with self._jobs_lock:
            if self._jobs is None:
                retriever = self.qa.retriever
                self._jobs = IngestJobQueue(
                    self.settings, self.qa.collection, retriever.embedder, retriever.store
                )
            return self._jobs

    def close_jobs(self) -> None:
        """Stop the job queue, if it was started (waits for the running job)."""
        if self._jobs is not None:
            self._jobs.close()

    async def blocking(
        self,
        work: Callable[..., T],
        *args: Any,
        limit_s: float | None = None,
        grace_s: float = GRACE_S,
    ) -> T:
        """`work(*args)` on a worker thread under a deadline that the work itself obeys.

        Work that does not notice the deadline (a hung store call) is abandoned `grace_s`
        after it, with a 504; its thread ends when the call does.
        """
        limit = self.settings.server.request_timeout_s if limit_s is None else limit_s
        # The worker thread runs in a copy of this context, so it sees the deadline.
        with time_limit(limit):
            try:
                return await asyncio.wait_for(
                    anyio.to_thread.run_sync(work, *args, abandon_on_cancel=True),
                    timeout=limit + grace_s,
                )
            except AdaptragError:  # ours (some are TimeoutErrors too): the handlers map them
                raise
            except TimeoutError:  # the work did not notice its deadline within the grace
                raise self.timed_out from None


def readable_domains(server: Server, caller: Access) -> list[str]:
    """The domains of the served collection that the caller may read (blocking)."""
    return sorted(d for d in server.qa.retriever.store.facet("domain") if caller.may_read(d))


def server_of(request: Request) -> Server:
    """The `Server` of the app serving `request`."""
    server: Server = request.app.state.server
    return server


# Declares the bearer scheme in the OpenAPI document (so /docs can authenticate and
# generated clients send the key); the Guard has already checked the key.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An adaptrag API key (ADAPTRAG_API_KEYS): `Authorization: Bearer KEY`.",
)


def caller_of(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> Access:
    """What the caller's key may do (the guard let no request in without a known key)."""
    if not server_of(request).keyring.enabled:
        return OPEN_ACCESS
    found: Access = request.state.access  # and its name, for the log (set by the Guard)
    return found


ServerDep = Annotated[Server, Depends(server_of)]
Caller = Annotated[Access, Depends(caller_of)]
