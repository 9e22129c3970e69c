"""OpenTelemetry spans: the request and ingest paths in process, and OTLP over real HTTP from
the CLI to a collector the test runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers.corpora import pipeline_over
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How many days notice does the tenant give to terminate?"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """An app's own tracer provider, as an app using the Python API would set it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()  # later tests in this process record nothing


def named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


def children(finished: tuple[ReadableSpan, ...], parent: ReadableSpan) -> set[str]:
    assert parent.context is not None
    return {s.name for s in finished if s.parent and s.parent.span_id == parent.context.span_id}


@pytest.fixture(scope="module")
def qa(
    indexed_corpus: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Pipeline]:
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=8) as pipeline:
        yield pipeline


def test_an_answer_is_one_span_with_its_stages_beneath(
    spans: InMemorySpanExporter, qa: Pipeline
) -> None:
    spans.clear()
    qa.ask_many([QUESTION, "When are refunds paid?"], domain="legal", backend="local")
    finished = spans.get_finished_spans()

    (answer,) = named(finished, "adaptrag.answer")
    assert answer.attributes and answer.attributes["questions"] == 2
    assert children(finished, answer) == {"adaptrag.embed", "adaptrag.search", "adaptrag.generate"}
    assert len(named(finished, "adaptrag.search")) == 2  # one per question
    (generate,) = named(finished, "adaptrag.generate")
    attributes = dict(generate.attributes or {})
    assert attributes["backend"] == "local" and attributes["batch"] == 2
    assert attributes["adapters"] == ("base",)
    output_tokens = attributes["output_tokens"]
    assert isinstance(output_tokens, int) and 0 < output_tokens <= 16  # two answers of 8


def test_a_stream_ends_its_generate_span_even_when_the_reader_stops(
    spans: InMemorySpanExporter, qa: Pipeline
) -> None:
    spans.clear()
    events = qa.stream(QUESTION, domain="legal", backend="local")
    next(events)  # one token, then the reader goes away
    events.close()  # type: ignore[attr-defined]
    (generate,) = named(spans.get_finished_spans(), "adaptrag.generate")
    assert generate.attributes and generate.attributes["stream"] is True
    assert generate.end_time is not None


def test_ingest_spans_join_the_ingest_from_every_stage_thread(
    spans: InMemorySpanExporter, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    spans.clear()
    settings = Settings(data_dir=tmp_path / "data")
    ingest_paths(
        [ROOT / "examples" / "sample" / "legal"], "legal", settings=settings, embedder=embedder
    )
    finished = spans.get_finished_spans()

    (ingest,) = named(finished, "adaptrag.ingest")
    assert ingest.attributes and ingest.attributes["added"] == 2
    assert children(finished, ingest) == {
        "adaptrag.ingest.parse",
        "adaptrag.ingest.embed",
        "adaptrag.ingest.store",
    }
    assert len(named(finished, "adaptrag.ingest.parse")) == 2  # a span per file


class _Collector(ThreadingHTTPServer):
    """An OTLP/HTTP collector: protobuf ExportTraceServiceRequest on POST /v1/traces."""

    daemon_threads = True

    def __init__(self) -> None:
        self.names: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        collector.names += [s.name for s in scope.spans]
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.mark.usefixtures("isolated_env")
def test_the_cli_exports_spans_over_otlp(embedder: SentenceTransformerEmbedder) -> None:
    ingest_paths([ROOT / "examples" / "sample" / "legal"], "legal", embedder=embedder)
    collector = _Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        env = dict(
            os.environ,
            ADAPTRAG_TRACING="otlp",
            ADAPTRAG_MAX_NEW_TOKENS="4",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_address[1]}",
        )
        command = [sys.executable, "-m", "adaptrag", "ask", QUESTION, "-d", "legal", "-b", "local"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    finally:
        collector.shutdown()
        collector.server_close()
    assert done.returncode == 0, done.stderr[-2000:]
    # the batch exporter flushed at exit, over HTTP, in the real wire format
    assert {"adaptrag.answer", "adaptrag.embed", "adaptrag.search", "adaptrag.generate"} <= set(
        collector.names
    )


@pytest.mark.usefixtures("isolated_env")
def test_an_unknown_tracing_mode_is_a_one_line_error() -> None:
    env = dict(os.environ, ADAPTRAG_TRACING="jaeger")
    command = [sys.executable, "-m", "adaptrag", "collections", "list"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tracing" in lines[0] and "console" in lines[0], done.stderr
