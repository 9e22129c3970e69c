"""Connections that cannot be held open by a slow client: time limits on the request's
headers and on its body, enforced where uvicorn reads the socket.

uvicorn bounds an idle keep-alive connection (`timeout_keep_alive`) but not a client that
trickles its headers a byte at a time, nor one that declares a body and sends it slower
than that, or never (each such socket stays open until the file descriptors run out).
`bounded_protocol` gives uvicorn's h11 protocol two timers: the headers of each request
must arrive within `header_timeout_s` of the connection opening (or of the previous
response), and its body within `body_timeout_s` of its headers. A connection over either
is closed, with one log line. The request's own work is bounded by `request_timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from adaptrag.rag.settings import Settings

logger = logging.getLogger("adaptrag.server")


class _BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and body."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._phase = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_the_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm("headers", self.header_timeout_s)  # the next request's, on keep-alive
            self._follow_the_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow_the_request(self) -> None:
        """Move the timer on with the client's side of the exchange."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # still reading headers: their timer runs
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body", self.body_timeout_s)
        else:  # the request is in; its work has its own deadline (request_timeout_s)
            self._disarm()

    def _arm(self, phase: str, timeout_s: float) -> None:
        self._disarm()
        self._phase = phase
        self._timer = self.loop.call_later(timeout_s, self._too_slow, phase, timeout_s)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._phase = None, ""

    def _too_slow(self, phase: str, timeout_s: float) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.warning(
            "closed the connection of %s: the request's %s did not arrive within %g s",
            client,
            phase,
            timeout_s,
        )
        self.transport.close()


def bounded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's `http` protocol class with these limits (`uvicorn.Config(http=...)`)."""
    return type(
        "BoundedH11Protocol",
        (_BoundedH11Protocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )


def uvicorn_config(
    app: Any, *, host: str, port: int, settings: Settings, **extra: Any
) -> uvicorn.Config:
    """The uvicorn configuration the server runs with: our protocol and timeouts, and
    forwarded headers trusted from `ADAPTRAG_TRUSTED_PROXIES` only (uvicorn's own default
    trusts them from 127.0.0.1, so any local client could name itself anyone)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=bounded_protocol(settings.server.header_timeout_s, settings.server.body_timeout_s),
        timeout_keep_alive=settings.server.keep_alive_timeout_s,
        proxy_headers=bool(settings.server.trusted_proxies),
        forwarded_allow_ips=settings.server.trusted_proxies or "",
        log_config=None,
        access_log=False,
        **extra,
    )
