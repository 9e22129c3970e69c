"""Errors of the HTTP API: one body shape for all, one mapping from our exceptions to statuses.

Every error is JSON `{"error": one line saying what and how to fix, "type": kind}`: ours
(`AdaptragError` by `status_of`, `ApiError` raised by routes, `Forbidden`), FastAPI's own
404/405/422 and the guard's 401/413. Messages sent to a caller never show the server's data
dir or ingest root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adaptrag.rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    DiskFullError,
    DocumentNotFoundError,
    ModelBusyError,
    ModelLoadError,
    StoreError,
)
from adaptrag.rag.infra.deadline import DeadlineExceeded
from adaptrag.rag.settings import Settings
from adaptrag.server.auth import Forbidden

RETRY_AFTER_S = 5


class ApiError(Exception):
    """An error with its HTTP status, raised by the routes themselves."""

    def __init__(
        self, status: int, message: str, kind: str = "bad_request", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.param = status, kind, param


def timeout_error(settings: Settings) -> ApiError:
    """The 504 of a request that passed `ADAPTRAG_REQUEST_TIMEOUT_S`."""
    return ApiError(
        504,
        f"the request took longer than {settings.server.request_timeout_s:g} s and was stopped "
        "(ADAPTRAG_REQUEST_TIMEOUT_S)",
        "timeout",
    )


def status_of(error: AdaptragError) -> tuple[int, str]:
    """The HTTP status and error type for one of our exceptions (the server's one mapping)."""
    if isinstance(error, DeadlineExceeded):
        return 504, "timeout"
    if isinstance(error, ModelBusyError):
        return 503, "busy"
    if isinstance(error, CollectionNotFoundError | DocumentNotFoundError):
        return 404, "not_found"
    if isinstance(error, ConfigError):
        return 400, "bad_request"
    if isinstance(error, DiskFullError):
        return 507, "disk_full"
    if isinstance(error, StoreError):
        return 503, "store_unavailable"
    if isinstance(error, BackendError):
        return 502, "backend_failed"
    if isinstance(error, ModelLoadError):
        return 500, "model_load_failed"
    return 500, "internal"


# Routes of the OpenAI protocol answer errors in OpenAI's shape, which its SDKs parse.
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")


def error_body(message: str, kind: str, path: str = "", param: str | None = None) -> dict[str, Any]:
    """`{"error": message, "type": kind}`; on the OpenAI routes, OpenAI's
    `{"error": {"message", "type", "param", "code"}}` (`param`: the field at fault)."""
    if path.startswith(OPENAI_PATHS):
        return {"error": {"message": message, "type": kind, "param": param, "code": kind}}
    return {"error": message, "type": kind}


def error_response(
    status: int, message: str, kind: str, path: str = "", param: str | None = None
) -> JSONResponse:
    """The one error body (see `error_body`), with the headers its status calls for."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = error_body(message, kind, path, param)
    response = JSONResponse(body, status_code=status, headers=headers)
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def problems(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> str:
    """pydantic's validation errors as one line (`field.path: what is wrong; ...`), each
    location without its first `skip` parts (FastAPI's `body`)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][skip:]) or 'body'}: {e['msg']}" for e in errors
    )


def install_error_handlers(app: FastAPI, message_of: Callable[[AdaptragError], str]) -> None:
    """Give every error of `app` the one body shape; `message_of` is what a caller reads of
    one of our errors (`Server.message_of`)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, str(exc), exc.kind, request.url.path, exc.param)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return error_response(403, str(exc), "forbidden", request.url.path)

    @app.exception_handler(AdaptragError)
    async def _adaptrag_error(request: Request, exc: AdaptragError) -> JSONResponse:
        status, kind = status_of(exc)
        return error_response(status, message_of(exc), kind, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the routes"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        kind = kinds.get(exc.status_code, "bad_request")
        return error_response(exc.status_code, message, kind, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = f"invalid request: {problems(exc.errors(), skip=1)}"
        return error_response(422, message, "invalid_request", request.url.path)
