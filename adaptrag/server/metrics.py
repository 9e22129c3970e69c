"""Prometheus metrics of the server, and the middleware that logs and counts each request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

from adaptrag.rag.types import Answer
from adaptrag.server.errors import error_response

logger = logging.getLogger("adaptrag.server")


class Metrics:
    """Requests by route and status, latency, answers by backend/adapter, tokens."""

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
            "Answers by backend and adapter kind (none, base or domain: /metrics is public, so "
            "no adapter name, nor so any domain's, appears in it).",
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
        """Count one answer and its tokens."""
        adapter = answer.adapter
        kind = "none" if not adapter else "base" if adapter == "base" else "domain"
        self.answers.labels(answer.backend, kind).inc()
        self.tokens.labels(answer.backend, "input").inc(answer.usage.input_tokens)
        self.tokens.labels(answer.backend, "output").inc(answer.usage.output_tokens)


def observe_requests(app: FastAPI, metrics: Metrics) -> None:
    """Log every request as one JSON line (with its request id) and count it."""

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # the one catch-all: a fault of ours is a 500 and a log, not a hang
            logger.exception("unhandled error", extra={"request_id": request_id})
            message = "internal error; see the server log"
            response = error_response(500, message, "internal", request.url.path)
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
