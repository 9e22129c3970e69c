"""What every request passes before a route reads a byte of it: its key, and its size.

`Guard` is ASGI middleware. It answers 401 to a protected route without a known key before
the body is read (an unauthenticated caller cannot make the server read or parse anything),
and it holds every body to a limit while it is received: a declared `Content-Length` over
the limit is a 413 at once; a chunked body is counted as it streams and stopped with a 413
as soon as it passes the limit (`BodyTooLarge`, an HTTP exception the app's handlers turn
into the usual error body). JSON bodies have one limit, multipart uploads another. An
address that sends too many wrong keys gets 429s for a growing while (`WrongKeyThrottle`);
the address is the socket's, or the client a trusted proxy names (`ADAPTRAG_TRUSTED_PROXIES`,
applied by uvicorn before the app). A body that is not JSON, where a route reads JSON, is a
415 before it is read.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adaptrag.server.auth import Keyring
from adaptrag.server.errors import error_response
from adaptrag.server.throttle import WrongKeyThrottle

PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
UPLOAD_PATH = "/v1/ingest"  # multipart or JSON: the route says which it accepts
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """The request body passed its limit while it was being received (413)."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message)


class Guard:
    """Key check and body limits in front of the app (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keyring: Keyring,
        max_body_bytes: int,
        max_upload_bytes: int,
        throttle: WrongKeyThrottle | None = None,
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.throttle = throttle or WrongKeyThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, then pass the request on with its body measured as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.keyring.enabled and scope["path"] not in PUBLIC_PATHS:
            client = (scope.get("client") or ("unknown", 0))[0]
            if wait_s := self.throttle.retry_after_s(client):
                message = f"too many wrong API keys from this address; retry in {wait_s} s"
                response = error_response(429, message, "too_many_wrong_keys", scope["path"])
                response.headers["Retry-After"] = str(wait_s)
                await response(scope, receive, send)
                return
            scheme, _, token = headers.get("authorization", "").partition(" ")
            access = self.keyring.lookup(token.strip()) if scheme.lower() == "bearer" else None
            if access is None:
                self.throttle.failed(client)
                message = "missing or unknown API key; send `Authorization: Bearer KEY`"
                await error_response(401, message, "unauthorized", scope["path"])(
                    scope, receive, send
                )
                return
            self.throttle.succeeded(client)
            # The key's rights for the routes, its name for the request log (every route).
            scope.setdefault("state", {}).update(access=access, key=access.name)
        if unsupported := _not_json(scope, headers):
            await error_response(415, unsupported, "unsupported_media_type", scope["path"])(
                scope, receive, send
            )
            return
        limit, setting = self._limit(scope["path"], headers)
        too_large = f"the request body is larger than {_size(limit)} ({setting})"
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await error_response(413, too_large, "too_large", scope["path"])(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(too_large)
            return message

        await self.app(scope, counted, send)

    def _limit(self, path: str, headers: Headers) -> tuple[int, str]:
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if path == UPLOAD_PATH and kind == "multipart/form-data":
            return self.max_upload_bytes, "ADAPTRAG_MAX_UPLOAD_MB"
        return self.max_body_bytes, "ADAPTRAG_MAX_BODY_KB"


def _not_json(scope: Scope, headers: Headers) -> str | None:
    """Why a request's body cannot be read as the JSON its route expects (None: it can)."""
    if scope["method"] not in BODY_METHODS or scope["path"] == UPLOAD_PATH:
        return None
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if not has_body or kind == "application/json" or kind.endswith("+json"):
        return None
    shown = f"Content-Type {kind!r}" if kind else "no Content-Type"
    return f"{shown}: this route reads JSON; send the body with Content-Type: application/json"


def _size(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"
