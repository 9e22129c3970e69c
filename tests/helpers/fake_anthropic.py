"""A fake Anthropic Messages API on 127.0.0.1, speaking the real wire format.

The real `anthropic` SDK talks to it over HTTP (via ANTHROPIC_BASE_URL): JSON responses,
SSE streams with the real event sequence, and error statuses with the API's error bodies.
Tests script failures (`fail_next`), slow answers (`delay_s`) and replies (`reply`).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-ant-test-key"
UNKNOWN_MODEL = "claude-no-such-model"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_FIRST_SOURCE = re.compile(r'<source id="1"[^>]*>\n(.*?)\n</source>', re.DOTALL)


def cite_first_source(body: dict[str, Any]) -> str:
    """Default reply: the first sentence of source [1], cited; 'I don't know.' without one."""
    user = body["messages"][-1]["content"]
    text = user if isinstance(user, str) else user[0]["text"]
    match = _FIRST_SOURCE.search(text)
    if not match:
        return "I don't know."
    sentence = re.split(r"(?<=[.!?])\s", match.group(1).strip())[0]
    return f"{sentence} [1]"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected; anything else is reported."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeAnthropic:
    """The fake server; `url` goes into ANTHROPIC_BASE_URL."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: deque[int] = deque()
        self.reply: Callable[[dict[str, Any]], str] = cite_first_source
        self.delay_s = 0.0
        # When `hold` is set to an Event, each message request signals `arrived` and waits
        # for `hold` (tests of concurrency, without timing assumptions).
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        self.stream_error: str | None = None
        self.cache_read_input_tokens = 0
        # With `prompt_cache`, system blocks marked cache_control are cached as the API does:
        # the first request with a prefix writes it, later ones read it (usage says which).
        self.prompt_cache = False
        self._cached_prefixes: set[str] = set()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these error statuses, in order."""
        self.failures.extend(statuses)

    def start(self) -> FakeAnthropic:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one fake API
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if self.path.split("?")[0] != "/v1/messages":
                    return self._error(404, f"no route {self.path}")
                bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
                if API_KEY not in (self.headers.get("x-api-key"), bearer):
                    return self._error(401, "invalid x-api-key")
                if body.get("model") == UNKNOWN_MODEL:
                    return self._error(404, f"model: {UNKNOWN_MODEL}")
                if fake.failures:
                    status = fake.failures.popleft()
                    return self._error(status, "scripted failure")
                if fake.hold is not None:
                    fake.arrived.set()
                    fake.hold.wait(120)
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                text = fake.reply(body)
                if body.get("stream"):
                    return self._stream(body, text)
                if body.get("tool_choice", {}).get("type") == "tool":
                    return self._json(200, _tool_call(body, text, fake))
                return self._json(200, _message(body, text, fake, stop_reason="end_turn"))

            def _json(self, status: int, data: dict[str, Any], **headers: str) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:12]}")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str) -> None:
                error_type = _ERROR_TYPES.get(status, "api_error")
                data = {"type": "error", "error": {"type": error_type, "message": message}}
                # The API asks clients to wait on rate limits; keep the wait short in tests.
                headers = {"retry-after-ms": "5"} if status == 429 else {}
                self._json(status, data, **headers)

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                start = _message(body, "", fake, stop_reason=None)
                start["usage"]["output_tokens"] = 1
                self._event("message_start", {"type": "message_start", "message": start})
                block = {"type": "text", "text": ""}
                self._event(
                    "content_block_start",
                    {"type": "content_block_start", "index": 0, "content_block": block},
                )
                self._event("ping", {"type": "ping"})
                words = re.findall(r"\S+\s*", text)
                for n, word in enumerate(words):
                    if fake.stream_error and n == len(words) // 2:
                        error = {"type": fake.stream_error, "message": "scripted stream error"}
                        self._event("error", {"type": "error", "error": error})
                        self.close_connection = True
                        return
                    delta = {"type": "text_delta", "text": word}
                    self._event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": 0, "delta": delta},
                    )
                self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
                self._event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": len(words)},
                    },
                )
                self._event("message_stop", {"type": "message_stop"})
                self.close_connection = True

            def _event(self, name: str, data: dict[str, Any]) -> None:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

        return Handler


def _message(
    body: dict[str, Any], text: str, fake: FakeAnthropic, *, stop_reason: str | None
) -> dict[str, Any]:
    system = body.get("system", "")
    system_text = system if isinstance(system, str) else "".join(b["text"] for b in system)
    prompt_tokens = (len(system_text) + len(json.dumps(body.get("messages", [])))) // 4
    cache_read, cache_write = fake.cache_read_input_tokens, 0
    if fake.prompt_cache and isinstance(system, list) and system[-1].get("cache_control"):
        prefix_tokens = len(system_text) // 4
        if system_text in fake._cached_prefixes:
            cache_read = prefix_tokens
        else:
            fake._cached_prefixes.add(system_text)
            cache_write = prefix_tokens
        prompt_tokens -= prefix_tokens
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt_tokens,
            "output_tokens": len(text.split()),
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        },
    }


def _tool_call(body: dict[str, Any], text: str, fake: FakeAnthropic) -> dict[str, Any]:
    """A forced tool call (`tool_choice` names the tool): the reply text, a JSON object, is
    the call's input, as the API returns it in a `tool_use` block; other text stays text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    message = _message(body, text, fake, stop_reason="tool_use")
    if isinstance(data, dict):
        name = body["tool_choice"]["name"]
        assert name in {t["name"] for t in body.get("tools", [])}, "tool_choice names no tool"
        message["content"] = [
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": name,
                "input": data,
            }
        ]
    return message
