"""The HTTP API (FastAPI): ask, stream, retrieve, ingest, collections, adapters, health.

Every route but the health probes, the metrics and the docs needs `Authorization: Bearer
KEY` when keys are configured; a key's domain rules go into the store filter of each query
(`Access.scope`). Blocking work (embedding, generation, store calls) runs on worker threads
under `ADAPTRAG_REQUEST_TIMEOUT_S`, so a slow Claude call never holds up a local request.
Errors are JSON `{"error": message, "type": kind}` with a 4xx for anything the caller can
fix.
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

from adaptrag.server.auth import OPEN_ACCESS, Access, Forbidden, Keyring
from adaptrag.server.guard import Guard
from adaptrag.server.jobs import IngestJobQueue, clear_uploads, uploads_dir
from rag.coalesce import CoalescingEmbedder
from rag.deadline import DeadlineExceeded, time_limit
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    ModelBusyError,
    ModelLoadError,
    StoreError,
)
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer, Source, is_domain_name

logger = logging.getLogger("adaptrag.server")
T = TypeVar("T")
Filters = dict[str, str | list[str]]
READY_PROBE_S = 10.0  # longest /readyz waits for a probe search before saying 503
GRACE_S = 5.0  # after the deadline, how long a request waits for its work to notice it
RETRY_AFTER_S = 5


class ApiError(Exception):
    """An error with its HTTP status, raised by the routes themselves."""

    def __init__(self, status: int, message: str, kind: str = "bad_request") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


# --- request bodies ----------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrieveRequest(_Body):
    """What to search for, and where."""

    question: str = Field(min_length=1, description="The question (or search text).")
    domain: str | None = Field(None, description="Only this domain's chunks.")
    top_k: int | None = Field(None, ge=1, description="Chunks to return.")
    filters: Filters | None = Field(None, description="Payload key = value (or any of a list).")
    doc_id: str | None = Field(None, description="Only this document's chunks.")
    mode: Literal["hybrid", "dense", "sparse"] | None = Field(None, description="Search mode.")


class AskRequest(RetrieveRequest):
    """A question and how to answer it."""

    backend: Literal["auto", "local", "claude"] | None = Field(None, description="Who answers.")
    adapter: str | None = Field(None, description="Force an adapter (name, name/vN or 'base').")
    max_new_tokens: int | None = Field(None, ge=1, le=4096, description="Longest answer.")


class IngestPathsRequest(_Body):
    """Files or folders under the server's ingest root."""

    paths: list[str] = Field(min_length=1, description="Paths relative to ADAPTRAG_INGEST_ROOT.")
    domain: str = Field(min_length=1, description="The documents' domain.")
    sync: bool = Field(False, description="Delete documents of these roots no longer present.")
    id_prefix: str = Field(
        "",
        max_length=200,
        description="Put PREFIX/ before every document id (keeps same-named files apart).",
    )


# --- the app ---------------------------------------------------------------------------


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "adaptrag_requests_total",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "adaptrag_request_seconds", "HTTP request latency.", ["route"], registry=self.registry
        )
        self.answers = Counter(
            "adaptrag_answers_total",
            "Answers by backend and adapter.",
            ["backend", "adapter"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "adaptrag_tokens_total",
            "Tokens by backend and direction.",
            ["backend", "direction"],
            registry=self.registry,
        )

    def answered(self, answer: Answer) -> None:
        self.answers.labels(answer.backend, answer.adapter or "none").inc()
        self.tokens.labels(answer.backend, "input").inc(answer.usage.input_tokens)
        self.tokens.labels(answer.backend, "output").inc(answer.usage.output_tokens)


def _source(source: Source) -> dict[str, Any]:
    return {
        "doc_id": source.doc_id,
        "chunk_id": source.chunk_id,
        "text": source.text,
        "score": source.score,
        "metadata": source.metadata,
    }


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    keys: Keyring | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """The API over one pipeline (built from `settings` when not given)."""
    keyring = keys if keys is not None else Keyring.from_settings(settings)
    # Concurrent requests share query-embedding batches.
    qa = pipeline or Pipeline(
        settings, embedder=CoalescingEmbedder(SentenceTransformerEmbedder.from_settings(settings))
    )
    metrics = _Metrics()
    ready = threading.Event()
    state: dict[str, Any] = {"jobs": None, "warm_error": None}

    def warm() -> None:
        try:
            qa.retriever.embedder.embed_queries(["warm up"])
            if settings.backend != "claude":
                generator: Any = qa.generator("local")
                getattr(generator, "hf_model", None)
            ready.set()
        except AdaptragError as error:
            state["warm_error"] = str(error)
            logger.error("warm-up failed: %s", error)
        except Exception as error:  # never "loading models" forever: not ready, and why
            state["warm_error"] = f"{type(error).__name__}: {error}"
            logger.exception("warm-up failed")

    def jobs() -> IngestJobQueue:
        if state["jobs"] is None:
            retriever = qa.retriever
            state["jobs"] = IngestJobQueue(
                settings, qa.collection, retriever.embedder, retriever.store
            )
        return state["jobs"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clear_uploads(settings)  # what a killed server left behind
        if warm_up:
            threading.Thread(target=warm, name="adaptrag-warm-up", daemon=True).start()
        else:
            ready.set()
        yield
        if state["jobs"] is not None:
            await anyio.to_thread.run_sync(state["jobs"].close)
        if pipeline is None:
            qa.close()

    app = FastAPI(
        title="adaptrag",
        version="1",
        summary="Question answering over your documents: hybrid retrieval on Qdrant, local "
        "LoRA-adapted models or Claude.",
        lifespan=lifespan,
    )
    app.state.pipeline = qa
    app.add_middleware(
        Guard,
        keyring=keyring,
        max_body_bytes=int(settings.max_body_kb * 1024),
        max_upload_bytes=int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024,  # form overhead
    )

    timed_out = ApiError(
        504,
        f"the request took longer than {settings.request_timeout_s:g} s and was stopped "
        "(ADAPTRAG_REQUEST_TIMEOUT_S)",
        "timeout",
    )

    async def blocking(
        work: Callable[[], T], limit_s: float = settings.request_timeout_s, grace_s: float = GRACE_S
    ) -> T:
        """Run `work` on a worker thread under a deadline that the work itself obeys.

        Work that does not notice the deadline (a hung store call) is abandoned `grace_s`
        after it, with a 504; its thread ends when the call does.
        """

        def limited() -> T:
            with time_limit(limit_s):
                return work()

        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(limited, abandon_on_cancel=True), timeout=limit_s + grace_s
            )
        except DeadlineExceeded:
            raise timed_out from None
        except TimeoutError as error:
            if isinstance(error, AdaptragError):  # ModelBusyError is a TimeoutError too
                raise
            raise timed_out from None

    def access(request: Request) -> Access:
        if not keyring.enabled:
            return OPEN_ACCESS
        found: Access = request.state.access  # the Guard let no request in without one
        request.state.key = found.name
        return found

    Caller = Annotated[Access, Depends(access)]

    def check_limits(body: RetrieveRequest) -> None:
        if len(body.question) > settings.max_question_chars:
            raise ApiError(
                422,
                f"the question has {len(body.question)} characters; the limit is "
                f"{settings.max_question_chars} (ADAPTRAG_MAX_QUESTION_CHARS)",
            )
        if body.top_k is not None and body.top_k > settings.max_top_k:
            raise ApiError(
                422,
                f"top_k {body.top_k} is above the limit {settings.max_top_k} (ADAPTRAG_MAX_TOP_K)",
            )

    def scoped(body: RetrieveRequest, caller: Access) -> dict[str, Any]:
        check_limits(body)
        domain, filters = caller.scope(body.domain, body.filters)
        options: dict[str, Any] = {
            "domain": domain,
            "filters": filters or None,
            "top_k": body.top_k,
            "doc_id": body.doc_id,
        }
        if body.mode is not None:
            options["mode"] = body.mode
        return options

    def ask_options(body: AskRequest, caller: Access) -> dict[str, Any]:
        options = scoped(body, caller)
        if body.adapter not in (None, "base"):
            check_adapter(body.adapter, caller)
        return {
            **options,
            "backend": body.backend,
            "adapter": body.adapter,
            "max_new_tokens": body.max_new_tokens,
        }

    def check_adapter(ref: str, caller: Access) -> None:
        # One answer for "unknown" and "another domain's": a key learns no adapter names.
        unknown = ApiError(
            400, f"no adapter {ref!r} that this key may use; GET /v1/adapters lists them"
        )
        try:
            domain = qa.adapters.resolve(ref).domain
        except ConfigError:
            raise unknown from None
        if not caller.may_read(domain):
            raise unknown

    async def save_uploads(
        files: list[StarletteUpload], folder: Path, limit: int, too_large: ApiError
    ) -> None:
        total = 0
        for upload in files:
            # A file name may keep its folders (`dupA/lease.md`): they are part of its id.
            name = _upload_name(upload.filename or "")
            target = folder / name
            if target.exists():
                raise ApiError(422, f"two uploaded files are both named {name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise too_large
                    out.write(chunk)

    # --- errors and logging ------------------------------------------------------------

    def error_response(status: int, message: str, kind: str) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message, "type": kind}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, str(exc), exc.kind)

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return error_response(403, str(exc), "forbidden")

    # Server folders as they may appear in error text, longest first, and what is shown.
    hidden_paths = sorted(
        {
            (str(form), shown)
            for folder, shown in ((settings.data_dir, "<data_dir>"), (settings.ingest_root, "."))
            if folder is not None
            for form in (folder, folder.resolve())
        },
        key=lambda pair: -len(pair[0]),
    )

    def without_server_paths(message: str) -> str:
        for folder, shown in hidden_paths:
            message = message.replace(folder, shown)
        return message

    @app.exception_handler(AdaptragError)
    async def _adaptrag_error(_: Request, exc: AdaptragError) -> JSONResponse:
        status, kind = _status_of(exc)
        if status == 504:
            return error_response(504, str(timed_out), "timeout")
        response = error_response(status, without_server_paths(str(exc)), kind)
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the routes"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error_response(exc.status_code, message, kinds.get(exc.status_code, "bad_request"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return error_response(422, f"invalid request: {problems}", "invalid_request")

    @app.middleware("http")
    async def _log_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
            response = error_response(500, "internal error; see the server log", "internal")
        seconds = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(seconds)
        response.headers["X-Request-ID"] = request_id
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round(seconds * 1000, 1),
                "key": getattr(request.state, "key", None),
            },
        )
        return response

    # --- routes ------------------------------------------------------------------------

    @app.post("/v1/ask", summary="Answer a question with sources")
    async def ask(body: AskRequest, caller: Caller) -> dict[str, Any]:
        def work() -> Answer:
            return qa.ask(body.question, **ask_options(body, caller))

        answer = await blocking(work)
        metrics.answered(answer)
        return answer.to_dict()

    @app.post(
        "/v1/ask/stream",
        summary="Answer as Server-Sent Events: `delta` events, then one `answer` event",
    )
    async def ask_stream(body: AskRequest, caller: Caller) -> StreamingResponse:
        def start() -> tuple[str | Answer, Iterator[str | Answer]]:
            events = qa.stream(body.question, **ask_options(body, caller))
            return next(events), events  # routing errors surface here, as a 4xx

        first, events = await blocking(start)

        def sse() -> Iterator[str]:
            try:
                for event in _chain(first, events):
                    if isinstance(event, Answer):
                        metrics.answered(event)
                        yield _sse("answer", event.to_dict())
                    else:
                        yield _sse("delta", {"text": event})
            except AdaptragError as error:
                message = str(timed_out) if isinstance(error, DeadlineExceeded) else str(error)
                yield _sse("error", {"error": message, "type": _status_of(error)[1]})

        return StreamingResponse(
            sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/v1/retrieve", summary="The best chunks for a question, without generation")
    async def retrieve(body: RetrieveRequest, caller: Caller) -> dict[str, Any]:
        sources = await blocking(lambda: qa.retrieve(body.question, **scoped(body, caller)))
        return {"sources": [_source(s) for s in sources]}

    @app.post(
        "/v1/ingest",
        status_code=202,
        summary="Start an ingest job: uploaded files (multipart) or paths under the root (JSON)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": IngestPathsRequest.model_json_schema()},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["domain", "files"],
                            "properties": {
                                "domain": {"type": "string"},
                                "files": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                },
                            },
                        }
                    },
                },
            }
        },
    )
    async def ingest(request: Request, caller: Caller) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            domain, id_prefix, folder = await receive_upload(request, caller)
            job = jobs().submit(
                [folder],
                domain,
                sync=False,
                owner=caller.name,
                cleanup=folder,
                shown_root=folder,
                id_prefix=id_prefix,
            )
        elif kind == "application/json":
            try:
                body = IngestPathsRequest.model_validate_json(await request.body())
            except ValidationError as error:
                problems = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
                raise RequestValidationError(problems) from None
            check_ingest_domain(body.domain, caller)
            folders = caller.ingest_folders(body.domain)
            paths = [_under_root(settings.ingest_root, p, folders) for p in body.paths]
            job = jobs().submit(
                paths,
                body.domain,
                sync=body.sync,
                owner=caller.name,
                shown_root=settings.ingest_root,
                id_prefix=_id_prefix(body.id_prefix),
            )
        else:
            raise ApiError(
                415,
                "send files as multipart/form-data (fields: domain, files) or paths as "
                'application/json ({"paths": [...], "domain": ...})',
                "unsupported_media_type",
            )
        return {"job": job.id, "status_url": f"/v1/ingest/{job.id}"}

    def check_ingest_domain(domain: str, caller: Access) -> None:
        if not is_domain_name(domain):
            raise ApiError(
                422,
                f"invalid domain {domain[:80]!r}; use letters, digits, '_', '.' or '-' "
                "(e.g. legal), 64 characters at most",
            )
        caller.check_ingest(domain)

    async def receive_upload(request: Request, caller: Caller) -> tuple[str, str, Path]:
        limit = int(settings.max_upload_mb * 1024 * 1024)
        too_large = ApiError(
            413,
            f"the upload is larger than {settings.max_upload_mb:g} MB (ADAPTRAG_MAX_UPLOAD_MB)",
            "too_large",
        )
        length = request.headers.get("content-length", "0")
        if length.isdigit() and int(length) > limit + 64 * 1024:  # form overhead allowed
            raise too_large
        form = await request.form()
        try:
            domain, id_prefix = form.get("domain"), form.get("id_prefix") or ""
            files = [f for f in form.getlist("files") if isinstance(f, StarletteUpload)]
            if not isinstance(id_prefix, str):
                raise ApiError(422, "'id_prefix' is a text field, not a file")
            id_prefix = _id_prefix(id_prefix)
            if not isinstance(domain, str) or not domain or not files:
                raise ApiError(422, "a multipart upload needs a 'domain' field and 'files' parts")
            check_ingest_domain(domain, caller)
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=uploads_dir(settings)))
            try:
                await save_uploads(files, folder, limit, too_large)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        finally:
            await form.close()
        return domain, id_prefix, folder

    @app.get("/v1/ingest/{job_id}", summary="An ingest job's status, progress and report")
    async def ingest_status(job_id: str, caller: Caller) -> dict[str, Any]:
        job = jobs().get(job_id)
        if job is None or (keyring.enabled and job.owner != caller.name):
            raise ApiError(404, f"no ingest job {job_id!r}", "not_found")
        return job.to_dict()

    @app.get("/v1/collections", summary="Collections and what the key may see of them")
    async def collections(caller: Caller) -> list[dict[str, Any]]:
        from rag.collection_info import describe_collection
        from rag.stores import collection_names, connection, store_for

        def work() -> list[dict[str, Any]]:
            rows = []
            for name in collection_names(**connection(settings)):
                store = store_for(settings, name)
                try:
                    rows.append(
                        describe_collection(store, name, detail=True, domains=caller.domains)
                    )
                except StoreError as error:
                    rows.append({"name": name, "error": str(error)})
                finally:
                    store.close()
            return rows

        return await blocking(work)

    @app.get("/v1/adapters", summary="Registered adapters of the domains the key may read")
    async def adapters(caller: Caller) -> list[dict[str, Any]]:
        from adapters import describe_adapters

        listed = await blocking(lambda: describe_adapters(settings))
        return [a for a in listed if caller.may_read(a["domain"])]

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def probe() -> None:
        """One real search: the query embedding and the store, the path every ask takes."""
        # Nothing ingested yet is ready: the store answered, which is what is asked.
        with contextlib.suppress(CollectionNotFoundError):
            qa.retrieve("readiness probe", top_k=1)

    @app.get("/readyz", summary="Models loaded, and a search through the store answers")
    async def readyz() -> JSONResponse:
        # Public: the reasons stay generic here (no paths, names or errors), full in the log.
        if not ready.is_set():
            failed = state["warm_error"] is not None
            message = "models failed to load; see the server log" if failed else "loading models"
            return error_response(503, message, "not_ready")
        limit_s = min(READY_PROBE_S, settings.request_timeout_s)
        try:
            await blocking(probe, limit_s=limit_s, grace_s=0)
        except ApiError:
            return error_response(
                503, f"a probe search took longer than {limit_s:g} s", "not_ready"
            )
        except AdaptragError as error:
            logger.warning("readiness probe failed: %s", error)
            kind = "store" if isinstance(error, StoreError) else "query path"
            return error_response(
                503, f"the {kind} is not answering; see the server log", "not_ready"
            )
        return JSONResponse({"status": "ready", "collection": qa.collection})

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _chain(first: T, rest: Iterator[T]) -> Iterator[T]:
    yield first
    yield from rest


def _status_of(error: AdaptragError) -> tuple[int, str]:
    if isinstance(error, DeadlineExceeded):
        return 504, "timeout"
    if isinstance(error, ModelBusyError):
        return 503, "busy"
    if isinstance(error, CollectionNotFoundError):
        return 404, "not_found"
    if isinstance(error, ConfigError):
        return 400, "bad_request"
    if isinstance(error, StoreError):
        return 503, "store_unavailable"
    if isinstance(error, BackendError):
        return 502, "backend_failed"
    if isinstance(error, ModelLoadError):
        return 500, "model_load_failed"
    return 500, "internal"


def _upload_name(filename: str) -> str:
    """The relative path an upload is stored (and identified) under; hostile names refused."""
    parts = PurePosixPath(filename.replace("\\", "/")).parts
    if (
        not parts
        or len(filename) > 512
        or PurePosixPath(filename).is_absolute()
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        or any(ord(c) < 32 for c in filename)
    ):
        raise ApiError(
            422,
            f"bad upload file name {filename[:80]!r}; give a relative name without '..', "
            "hidden parts or control characters",
        )
    return "/".join(parts)


def _id_prefix(prefix: str) -> str:
    """A caller's document id prefix, refused when it holds control characters or `..`."""
    cleaned = prefix.strip("/")
    if any(ord(c) < 32 for c in cleaned) or ".." in PurePosixPath(cleaned).parts:
        raise ApiError(422, f"bad id_prefix {prefix[:80]!r}; use a plain name such as 'dupA'")
    return cleaned


def _under_root(root: Path | None, path: str, folders: tuple[str, ...]) -> Path:
    """`path` resolved (links followed) inside the key's folders of the ingest root.

    Anything that resolves elsewhere (`..`, an absolute path, a link) is refused, and so is a
    folder of the root the key has no right to; messages name only what the caller sent.
    """
    if root is None:
        raise ApiError(
            400,
            "ingesting server paths needs ADAPTRAG_INGEST_ROOT on the server; upload the files "
            "as multipart/form-data instead",
        )
    if not path or any(ord(c) < 32 for c in path):
        raise ApiError(422, f"path {path[:80]!r} is empty or holds a NUL or control character")
    base = root.resolve()
    target = Path(os.path.realpath(base / path))
    if not target.is_relative_to(base):
        raise Forbidden(f"path {path!r} is outside the ingest root; give paths relative to it")
    allowed = [base / folder for folder in folders]  # not resolved: a link is no way out
    if not any(target.is_relative_to(folder) for folder in allowed):
        shown = ", ".join(f"{folder}/" if folder else "./" for folder in folders)
        raise Forbidden(f"this key may ingest only from {shown} under the ingest root")
    if not target.exists():
        raise ApiError(404, f"path {path!r} does not exist under the ingest root", "not_found")
    return target
