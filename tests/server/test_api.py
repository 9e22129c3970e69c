"""The HTTP API over real HTTP: each endpoint, keys and domain rules, limits, streaming."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from helpers.server import ADMIN, FINANCE, LEGAL_INGEST, Served

from adaptrag.server import JsonFormatter


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event, data) pairs of a Server-Sent Events body."""
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_health_readiness_docs_and_metrics(served: Served) -> None:
    with served.client(key=None) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 120  # warm-up loads the models: longer on a busy machine
        while (ready := anonymous.get("/readyz")).status_code == 503:
            assert ready.json()["error"] == "loading models" and time.monotonic() < deadline
            time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        paths = anonymous.get("/openapi.json").json()["paths"]
        assert {"/v1/ask", "/v1/ask/stream", "/v1/retrieve", "/v1/ingest"} <= set(paths)
        assert {"application/json", "multipart/form-data"} <= set(
            paths["/v1/ingest"]["post"]["requestBody"]["content"]
        )
        assert anonymous.get("/docs").status_code == 200
        document = anonymous.get("/openapi.json").json()
    # The bearer scheme is declared, and every key-guarded route requires it, so /docs
    # "Authorize" and generated clients send the key; the public routes do not.
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An adaptrag API key (ADAPTRAG_API_KEYS): `Authorization: Bearer KEY`.",
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            guarded = operation.get("security") == [{"apiKey": []}]
            assert guarded == path.startswith("/v1/"), (path, operation.get("security"))
    with served.client() as admin:
        admin.post("/v1/retrieve", json={"question": "rent"})
        with served.client(key=None) as anonymous:
            text = anonymous.get("/metrics").text
    assert 'adaptrag_requests_total{route="/v1/retrieve",status="200"}' in text
    assert "adaptrag_request_seconds_bucket" in text


def test_a_missing_or_unknown_key_is_401(served: Served) -> None:
    for key in (None, "not-a-key-of-this-server-000"):
        with served.client(key=key) as client:
            response = client.post("/v1/retrieve", json={"question": "rent"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["type"] == "unauthorized"
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Basic {ADMIN}"}) as basic:
        assert basic.post("/v1/retrieve", json={"question": "rent"}).status_code == 401


def test_ask_returns_the_answer_with_sources_and_a_request_id(served: Served) -> None:
    with served.client() as client:
        response = client.post(
            "/v1/ask",
            json={"question": "What is the annual base rent?", "domain": "legal", "top_k": 2},
            headers={"X-Request-ID": "req-123"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-123"
    answer = response.json()
    assert answer["text"] and answer["backend"] == "local"
    assert 1 <= len(answer["sources"]) <= 2  # neighbours may be merged
    assert {s["metadata"]["domain"] for s in answer["sources"]} == {"legal"}
    assert set(answer["timings"]) >= {"embed_ms", "search_ms", "generate_ms", "total_ms"}
    assert answer["grounding"]["action"] == "kept"  # every answer carries its verdict


def test_a_finance_key_never_sees_a_legal_chunk(served: Served) -> None:
    with served.client(FINANCE) as client:
        # no domain given: the key's rule is the store filter, even for a legal question
        for question in ("termination notice of the lease", "confidentiality of the NDA"):
            sources = client.post("/v1/retrieve", json={"question": question, "top_k": 20}).json()[
                "sources"
            ]
            assert sources and {s["metadata"]["domain"] for s in sources} == {"finance"}
        answer = client.post("/v1/ask", json={"question": "What notice ends the lease?"}).json()
        assert {s["metadata"]["domain"] for s in answer["sources"]} == {"finance"}
        refused = [
            client.post("/v1/retrieve", json={"question": "lease", "domain": "legal"}),
            client.post("/v1/ask", json={"question": "lease", "filters": {"domain": "legal"}}),
            client.post(
                "/v1/retrieve", json={"question": "x", "filters": {"domain": ["finance", "legal"]}}
            ),
        ]
        assert [r.status_code for r in refused] == [403, 403, 403]
        assert "finance" in refused[0].json()["error"]
        collections = client.get("/v1/collections").json()
        mine = next(c for c in collections if c["name"] == served.settings.store.collection)
        assert set(mine["domains"]) == {"finance"}
    with served.client(ADMIN) as admin:
        everything = admin.get("/v1/collections").json()
        theirs = next(c for c in everything if c["name"] == served.settings.store.collection)
        assert set(theirs["domains"]) == {"finance", "legal"}
        assert theirs["chunks"] > mine["chunks"]


def test_range_negation_and_exists_filters_reach_the_store(served: Served) -> None:
    with served.client() as client:

        def sources(filters: dict) -> list[dict]:
            body = {"question": "notice", "top_k": 20, "filters": filters}
            response = client.post("/v1/retrieve", json=body)
            assert response.status_code == 200, response.text
            return response.json()["sources"]

        first = sources({"chunk_index": {"lte": 0}, "domain": {"ne": "finance"}})
        assert first and all(s["metadata"]["chunk_index"] == 0 for s in first)
        assert {s["metadata"]["domain"] for s in first} == {"legal"}
        assert sources({"title": {"exists": False}}) == []  # every chunk has a title


def test_bad_input_is_a_clear_4xx_never_a_500(served: Served) -> None:
    too_long = "why " * 2000
    cases = [
        ({"question": too_long}, 422, "ADAPTRAG_MAX_QUESTION_CHARS"),
        ({"question": "rent", "top_k": 500}, 422, "ADAPTRAG_MAX_TOP_K"),
        ({"question": "rent", "top_k": 0}, 422, "top_k"),
        ({"question": ""}, 422, "question"),
        ({"question": "rent", "colour": "red"}, 422, "colour"),
        ({"question": "rent", "backend": "gpt"}, 422, "backend"),
        ({"question": "rent", "filters": {"bad key!": "x"}}, 400, "cannot filter"),
        ({"question": "rent", "filters": {"page": {"gte": "soon"}}}, 400, "ISO date"),
        ({"question": "rent", "filters": {"page": {"between": [1, 2]}}}, 422, "between"),
        ({"question": "rent", "adapter": "nope"}, 400, "no adapter 'nope'"),
    ]
    with served.client() as client:
        for body, status, words in cases:
            response = client.post("/v1/ask", json=body)
            assert response.status_code == status, (body, response.text)
            assert words in response.json()["error"]
        broken = client.post(
            "/v1/retrieve", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422 and "invalid request" in broken.json()["error"]
        assert client.get("/v1/ingest/unknown-job").status_code == 404


def test_stream_sends_deltas_then_the_answer_with_sources(served: Served) -> None:
    with served.client() as client:
        response = client.post(
            "/v1/ask/stream", json={"question": "How long does the NDA last?", "domain": "legal"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"} and len(kinds) > 2
    answer = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]).strip() == answer["text"]
    assert answer["sources"] and answer["sources"][0]["metadata"]["domain"] == "legal"
    verdict = answer["grounding"]  # the stream's final event carries the verdict
    assert verdict["action"] == "kept" and {"supported", "values", "unsupported"} <= set(verdict)


def test_a_stream_that_cannot_start_is_a_4xx(served: Served) -> None:
    with served.client(FINANCE) as client:
        response = client.post("/v1/ask/stream", json={"question": "x", "domain": "legal"})
    assert response.status_code == 403


def test_adapters_list_answers_json(served: Served) -> None:
    with served.client(LEGAL_INGEST) as client:
        assert client.get("/v1/adapters").json() == []


def test_logs_are_json_lines_with_the_request_id(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="adaptrag.server"), served.client() as client:
        client.get("/healthz", headers={"X-Request-ID": "trace-me"})
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "trace-me")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["path"] == "/healthz"
    assert line["status"] == 200 and line["request_id"] == "trace-me" and line["ms"] >= 0
