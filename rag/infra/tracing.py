"""OpenTelemetry spans on the request and ingest paths (optional: `pip install adaptrag[otel]`).

Spans are made through the OpenTelemetry API, so an app that configures a tracer provider
sees adaptrag's work inside its own traces: `adaptrag.answer` (a batch of questions) with
`adaptrag.embed`, `adaptrag.search`, `adaptrag.rerank` and `adaptrag.generate` beneath;
`adaptrag.ingest` with `adaptrag.ingest.parse` (a file), `adaptrag.ingest.embed` and
`adaptrag.ingest.store` (a batch). Without the API installed, or with no provider set, they
cost nothing. `adaptrag serve` and the CLI set a provider themselves when
`ADAPTRAG_TRACING` is `console` (spans as JSON on stderr) or `otlp` (the standard
`OTEL_EXPORTER_OTLP_*` variables say where).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adaptrag.rag.errors import ConfigError

logger = logging.getLogger(__name__)

try:
    from opentelemetry import trace as _trace
except ImportError:  # the optional extra is not installed: spans are no-ops
    _trace = None  # type: ignore[assignment]

TRACING_CHOICES = ("off", "console", "otlp")
_configured: str | None = None


def _attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int, float and lists of them; None is left out."""
    kept: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = [v if isinstance(v, (str, bool, int, float)) else str(v) for v in value]
        elif not isinstance(value, (str, bool, int, float)):
            value = str(value)
        kept[key] = value
    return kept


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span around a block (current while it runs); yields it, or None without the API.

    `span.set_attribute` on the yielded value adds what is known only at the end.
    """
    if _trace is None:
        yield None
        return
    tracer = _trace.get_tracer("adaptrag")
    with tracer.start_as_current_span(name, attributes=_attributes(attributes)) as current:
        yield current


def start_span(name: str, **attributes: Any) -> Any:
    """A span that is not made current (one that lasts across a generator's yields);
    `end_span` ends it. None without the API."""
    if _trace is None:
        return None
    tracer = _trace.get_tracer("adaptrag")
    return tracer.start_span(name, attributes=_attributes(attributes))


def end_span(current: Any, **attributes: Any) -> None:
    """End a span from `start_span`, with attributes known only at the end."""
    if current is not None:
        set_attributes(current, **attributes)
        current.end()


def set_attributes(current: Any, **attributes: Any) -> None:
    """Add attributes to a span from `span` (nothing when tracing is not installed)."""
    if current is not None:
        current.set_attributes(_attributes(attributes))


def configure_tracing(mode: str) -> None:
    """Install a tracer provider for `mode` (off, console, otlp) once per process."""
    global _configured
    if mode not in TRACING_CHOICES:
        raise ConfigError(f"unknown ADAPTRAG_TRACING {mode!r}; use {', '.join(TRACING_CHOICES)}")
    if mode == "off" or _configured is not None:
        return
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
            SpanExporter,
        )
    except ImportError:
        raise ConfigError(
            f"ADAPTRAG_TRACING={mode} needs OpenTelemetry; pip install 'adaptrag[otel]'"
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": "adaptrag"}))
    if mode == "console":
        exporter: SpanExporter = ConsoleSpanExporter(out=sys.stderr)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "ADAPTRAG_TRACING=otlp needs the OTLP exporter; pip install 'adaptrag[otel]'"
            ) from None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    assert _trace is not None  # the SDK imported, so the API is there
    _trace.set_tracer_provider(provider)
    _configured = mode
    logger.info("tracing: %s", mode)
