"""The probe of issue 39, kept: a real server on real sockets with three keys (legal
read-only, legal ingest, admin) sent the requests that once got a 500, a server path, a
throttle bypass or an endless stream. Every response is checked for status and body shape,
and no response to a legal key may carry finance text or a path of the server."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from helpers.server import SAMPLE, Served, server_settings, serving
from starlette.types import Message, Receive, Scope, Send

from adaptrag.ingest import ingest_paths
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.server.auth import parse_keys
from adaptrag.server.mcp import McpGate
from adaptrag.server.routes.ingest import upload_names

ADMIN = "probe-admin-0123456789abcdef"
LEGAL_READ = "probe-legal-read-0123456789ab"
LEGAL_INGEST = "probe-legal-ingest-01234567"
KEYS = f"{ADMIN}:*:ingest {LEGAL_READ}:legal {LEGAL_INGEST}:legal:ingest"
CANARY = "FINCANARY-7319"
QUESTION = "What is the annual base rent?"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}

# Text no question may hold: the routes must refuse them alike, each in its own shape.
HOSTILE_TEXT = ["x\x00", "x\x01", "x\x1b", "x\x7f", "x\x85", "x\ud800"]


@pytest.fixture(scope="module")
def probed(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """Legal documents from the sample folder, finance ones holding a canary string."""
    tmp = tmp_path_factory.mktemp("probe")
    settings = server_settings(tmp, models_dir)
    (tmp / "root" / "legal").mkdir(parents=True)
    finance = tmp / "finance"
    finance.mkdir()
    (finance / "treasury.md").write_text(
        f"# Treasury\n\nThe annual base rent of the treasury office is {CANARY}: 93 million.\n"
    )
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    ingest_paths([finance], "finance", settings=settings, embedder=embedder)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def _leaks(served: Served, text: str) -> list[str]:
    """What of the server's filesystem or the finance domain `text` shows."""
    private = [CANARY, str(served.settings.data_dir), str(SAMPLE), str(served.ingest_root)]
    private += [str(served.ingest_root.parent), "/tmp/", str(Path.home())]
    return [p for p in private if p in text]


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """A JSON POST whose body is encoded here (lone surrogates as escapes, as JS sends them)."""
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(MCP_HEADERS if path == "/mcp" else {})}
    return client.post(path, content=content, headers=headers)


def _tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def _tool_result(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=repr)
def test_hostile_text_is_a_422_or_tool_error_on_every_route_never_a_500(
    probed: Served, text: str
) -> None:
    chat = {"model": "adaptrag/legal", "messages": [{"role": "user", "content": text}]}
    earlier = {
        "model": "adaptrag/legal",
        "messages": [
            {"role": "user", "content": text},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": QUESTION},
        ],
    }
    history: dict[str, Any] = {"question": QUESTION, "history": [{"role": "user", "content": text}]}
    with probed.client(LEGAL_READ) as client:
        routes: list[tuple[str, dict[str, Any]]] = [
            ("/v1/ask", {"question": text}),
            ("/v1/retrieve", {"question": text}),
            ("/v1/ask", history),
            ("/v1/retrieve", history),
        ]
        for path, body in routes:
            response = _post(client, path, body)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["type"] == "invalid_request"
        for body, where in [(chat, "messages.0.content"), (earlier, "messages.0.content")]:
            response = _post(client, "/v1/chat/completions", body)
            assert response.status_code == 422, response.text
            error = response.json()["error"]  # OpenAI's shape
            assert error["type"] == "invalid_request" and where in error["message"]
        for tool in ("search", "ask"):
            response = _post(client, "/mcp", _tool_call(tool, {"question": text}))
            if response.status_code == 400:  # the SDK's JSON parser refuses a lone surrogate
                assert response.json()["error"]["code"] == -32700  # JSON-RPC's parse error
                continue
            result = _tool_result(response)
            assert result["isError"] and "question" in result["content"][0]["text"]


def test_a_history_turn_over_the_limit_is_refused_alike(probed: Served) -> None:
    long_turn = "word " * 4_001  # 20,005 characters
    chat = {
        "model": "adaptrag/legal",
        "messages": [
            {"role": "user", "content": long_turn},
            {"role": "user", "content": QUESTION},
        ],
    }
    with probed.client(LEGAL_READ) as client:
        ask = _post(
            client,
            "/v1/ask",
            {"question": QUESTION, "history": [{"role": "user", "content": long_turn}]},
        )
        completion = _post(client, "/v1/chat/completions", chat)
    assert ask.status_code == 422 and "20000" in ask.json()["error"]
    assert completion.status_code == 422
    assert "messages.0.content" in completion.json()["error"]["message"]


def test_answers_and_sources_show_scoped_keys_no_server_path_and_no_finance(
    probed: Served,
) -> None:
    texts = []
    with probed.client(LEGAL_READ) as client:
        retrieved = _post(client, "/v1/retrieve", {"question": QUESTION, "top_k": 3})
        asked = _post(client, "/v1/ask", {"question": QUESTION})
        with client.stream("POST", "/v1/ask/stream", json={"question": QUESTION}) as streamed:
            texts.append("".join(streamed.iter_text()))
        chat = _post(
            client,
            "/v1/chat/completions",
            {"model": "adaptrag", "messages": [{"role": "user", "content": QUESTION}]},
        )
        searched = _post(client, "/mcp", _tool_call("search", {"question": QUESTION}))
        documents = client.get("/v1/documents", params={"domain": "legal"})
        one = client.get("/v1/documents/northwind-lease.md", params={"domain": "legal"})
        adapters = client.get("/v1/adapters")
    responses = [retrieved, asked, chat, searched, documents, one, adapters]
    assert [r.status_code for r in responses] == [200] * len(responses)
    texts += [r.text for r in responses]
    assert not [leak for text in texts for leak in _leaks(probed, text)]
    source = retrieved.json()["sources"][0]
    assert source["doc_id"] == "northwind-lease.md"
    assert source["metadata"]["source"] == "northwind-lease.md"
    assert source["metadata"]["source_root"] == "legal"  # the sample folder, by its name
    assert asked.json()["sources"][0]["metadata"]["source"] == "northwind-lease.md"
    assert chat.json()["adaptrag"]["sources"][0]["metadata"]["source_root"] == "legal"
    assert {d["source"] for d in documents.json()} == {"northwind-lease.md", "orbit-nda.txt"}
    found = json.loads(_tool_result(searched)["content"][0]["text"])
    assert found["metadata"]["source"] in ("northwind-lease.md", "orbit-nda.txt")


def _job(client: httpx.Client, accepted: httpx.Response) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(accepted.json()["status_url"]).json()
        if job["finished_at"]:
            return job
        time.sleep(0.1)
    raise AssertionError("the ingest job did not end")


def test_an_upload_clashing_with_a_stored_document_names_it_without_server_paths(
    probed: Served,
) -> None:
    files = [("files", ("northwind-lease.md", b"# Another lease\n\nRent: 5 EUR.\n"))]
    with probed.client(LEGAL_INGEST) as client:
        job = _job(client, client.post("/v1/ingest", data={"domain": "legal"}, files=files))
    (failed,) = job["report"]["failed"]
    assert failed["path"] == "northwind-lease.md"
    assert "already holds legal/northwind-lease.md" in failed["reason"]
    assert not _leaks(probed, json.dumps(job))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a" * 303 + ".md", "longer than 255 bytes"),
        ("lease\x7f.md", "control character"),
        ("lease\x85.md", "control character"),  # C1 (NEL)
        # Invalid UTF-8 (a surrogate's bytes) as starlette decodes it: latin-1, C1 included.
        ("lease\xed\xa0\x80.md", "control character"),
        ("cod\u202egpj.md", "bidirectional control U+202E"),
        ("../lease.md", "'..'"),
        ("\\tmp\\evil.md", "is absolute"),  # a Windows-style name that would leave the upload
        ("abc/" * 300 + "b.md", "longer than 1024 bytes"),
    ],
)
def test_hostile_upload_names_are_422s_naming_the_problem(
    probed: Served, name: str, problem: str
) -> None:
    with probed.client(LEGAL_INGEST) as client:
        files = [("files", (name, b"x"))]
        response = client.post("/v1/ingest", data={"domain": "legal"}, files=files)
    assert response.status_code == 422, response.text
    assert problem in response.json()["error"]


def test_a_file_and_a_folder_of_the_same_name_in_one_upload_is_a_422(probed: Served) -> None:
    files = [("files", ("x.md", b"# X\n")), ("files", ("x.md/y.md", b"# Y\n"))]
    with probed.client(LEGAL_INGEST) as client:
        response = client.post("/v1/ingest", data={"domain": "legal"}, files=files)
    assert response.status_code == 422
    assert "'x.md' is a file, and a folder" in response.json()["error"]
    assert upload_names(["b/a.md", "a.md", "b/c.md"]) == ["b/a.md", "a.md", "b/c.md"]


def test_a_read_only_key_is_refused_before_its_upload_is_read(probed: Served) -> None:
    host, port = probed.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/ingest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {LEGAL_READ}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {45 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"--xyz\r\n")  # then nothing of the 45 MB
        started = time.monotonic()
        reply = ""
        while "may not ingest" not in reply and (chunk := sock.recv(65536)):
            reply += chunk.decode()
    assert reply.startswith("HTTP/1.1 403"), reply
    assert time.monotonic() - started < 5
    assert "may not ingest" in reply


def test_bodies_that_are_not_json_are_415s_in_each_routes_shape(probed: Served) -> None:
    with probed.client(LEGAL_READ) as client:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        ask = client.post("/v1/ask", content=b"question=rent", headers=form)
        chat = client.post("/v1/chat/completions", content=b"x", headers={"Content-Type": ""})
        mcp = client.post("/mcp", content=b"{}", headers={"Content-Type": "text/plain"})
    assert [r.status_code for r in (ask, chat, mcp)] == [415, 415, 415]
    assert "application/json" in ask.json()["error"]
    assert chat.json()["error"]["type"] == "unsupported_media_type"  # OpenAI's shape


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        ("tool_choice", "auto"),
        ("response_format", {"type": "json_object"}),
        ("logprobs", True),
    ],
)
def test_chat_fields_it_cannot_honour_are_refused_by_name(
    probed: Served, field: str, value: Any
) -> None:
    client = openai.OpenAI(base_url=f"{probed.url}/v1", api_key=LEGAL_READ, max_retries=0)
    with client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="adaptrag/legal",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={field: value},
        )
    assert refused.value.param == field and f"'{field}' is not supported" in str(refused.value)


def test_the_model_list_says_which_fields_it_honours(probed: Served) -> None:
    with probed.client(LEGAL_READ) as client:
        models = client.get("/v1/models").json()["data"]
    assert models and all("tools" not in m["supported_parameters"] for m in models)
    assert all("max_tokens" in m["supported_parameters"] for m in models)
    assert not [m for m in models if "finance" in m["id"]]


def test_mcp_refuses_event_streams_and_deletes_at_once_and_logs_the_key(
    probed: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adaptrag.server")
    with probed.client(LEGAL_READ, timeout=5) as client:
        stream = client.get("/mcp", headers={"Accept": "text/event-stream"})
        delete = client.delete("/mcp")
        listed = _post(client, "/mcp", _tool_call("list_domains", {}))
    for response in (stream, delete):
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
        assert response.json()["type"] == "method_not_allowed"
    assert [item["text"] for item in _tool_result(listed)["content"]] == ["legal"]
    (name,) = [a.access.name for a in parse_keys(KEYS) if a.key == LEGAL_READ]
    logged = [r for r in caplog.records if getattr(r, "path", "") == "/mcp"]
    assert logged and {getattr(r, "key", None) for r in logged} == {name}


def test_the_mcp_gate_bounds_requests_in_flight_per_key_and_in_all() -> None:
    release = asyncio.Event()

    async def slow_tool(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def call(gate: McpGate, key: str) -> int:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/mcp", "state": {"key": key}}
        await gate(scope, receive, send)
        return int(sent[0]["status"])

    async def scenario() -> list[int]:
        gate = McpGate(slow_tool, per_key=1, total=2)
        first = asyncio.create_task(call(gate, "a"))
        second = asyncio.create_task(call(gate, "b"))
        await asyncio.sleep(0.01)
        refused = [await call(gate, "a"), await call(gate, "c")]  # a's one, then all two
        release.set()
        done = [await first, await second]
        return [*refused, *done, await call(gate, "a")]  # counts restored after each

    assert asyncio.run(scenario()) == [429, 503, 200, 200, 200]


@pytest.fixture(scope="module")
def behind_proxy(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """A server that trusts 127.0.0.1 as its reverse proxy (ADAPTRAG_TRUSTED_PROXIES)."""
    tmp = tmp_path_factory.mktemp("proxied")
    settings = server_settings(tmp, models_dir, trusted_proxies="127.0.0.1")
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


@pytest.fixture(scope="module")
def direct(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """A server with no trusted proxy (the default)."""
    settings = server_settings(tmp_path_factory.mktemp("direct"), models_dir)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def _block(client: httpx.Client, forwarded: str) -> None:
    """Send wrong keys 'from' `forwarded` until its address is blocked."""
    headers = {"Authorization": "Bearer wrong-key-0000000000", "X-Forwarded-For": forwarded}
    codes = [client.get("/v1/adapters", headers=headers).status_code for _ in range(11)]
    assert codes == [401] * 11
    assert client.get("/v1/adapters", headers=headers).status_code == 429


def test_a_forwarded_header_from_an_untrusted_client_cannot_reset_the_throttle(
    direct: Served,
) -> None:
    with direct.client(LEGAL_READ) as client:
        _block(client, "10.0.0.1")
        fresh = client.get("/v1/adapters", headers={"X-Forwarded-For": "10.0.0.99"})
    assert fresh.status_code == 429  # the header is ignored: the socket's address is blocked


def test_behind_a_trusted_proxy_clients_are_throttled_one_by_one(behind_proxy: Served) -> None:
    with behind_proxy.client(LEGAL_READ) as client:
        _block(client, "10.0.0.1")
        other = client.get("/v1/adapters", headers={"X-Forwarded-For": "10.0.0.2"})
        blocked = client.get("/v1/adapters", headers={"X-Forwarded-For": "10.0.0.1"})
    assert other.status_code == 200  # another client of the same proxy is not held up
    assert blocked.status_code == 429
