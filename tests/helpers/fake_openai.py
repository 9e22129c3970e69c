"""A fake OpenAI-compatible inference server (vLLM's API) on 127.0.0.1.

The real `openai` SDK talks to it over HTTP: chat completions as JSON and as SSE chunks
(with the usage chunk of `stream_options.include_usage`), function calls, `/v1/models`
listing the base model and LoRA adapters (each naming its `parent`), vLLM's runtime LoRA
routes (`/v1/load_lora_adapter`, `/v1/unload_lora_adapter`; absent unless
`runtime_loading`), and error statuses with vLLM's error bodies. An unknown model or
adapter name is a 404, as vLLM answers it. Tests script failures (`fail_next`) and replies.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from helpers.fake_anthropic import _Server, cite_first_source

BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
API_KEY = "vllm-test-key"


@dataclass
class Lora:
    """An adapter the server serves."""

    path: str
    parent: str = BASE_MODEL


Reply = Callable[[dict[str, Any], "Lora | None"], str]


def cite_first(body: dict[str, Any], lora: Lora | None) -> str:
    """Default reply: the first sentence of source [1], cited (whichever model is asked)."""
    return cite_first_source(body)


class FakeOpenAI:
    """The fake server; `url` (ending in /v1) goes into ADAPTRAG_OPENAI_BASE_URL."""

    def __init__(self, *, base_model: str = BASE_MODEL, max_model_len: int = 8192) -> None:
        self.base_model = base_model
        self.max_model_len = max_model_len
        self.api_key: str | None = None
        self.loras: dict[str, Lora] = {}
        self.runtime_loading = True
        self.requests: list[dict[str, Any]] = []
        self.failures: deque[int] = deque()
        self.reply: Reply = cite_first
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the API, as clients are given it."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def reset(self) -> None:
        """Back to a clean server: no adapters, no scripted failures, default reply."""
        self.api_key = None
        self.loras.clear()
        self.runtime_loading = True
        self.requests.clear()
        self.failures.clear()
        self.reply = cite_first
        self.hold = None
        self.arrived.clear()

    def fail_next(self, *statuses: int) -> None:
        """Answer the next chat requests with these error statuses, in order."""
        self.failures.extend(statuses)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion requests received, in order."""
        return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    def start(self) -> FakeOpenAI:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()

    def _models(self) -> dict[str, Any]:
        created = int(time.time())
        base = {
            "id": self.base_model,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": self.base_model,
            "parent": None,
            "max_model_len": self.max_model_len,
        }
        loras = [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": lora.path,
                "parent": lora.parent,
                "max_model_len": None,
            }
            for name, lora in self.loras.items()
        ]
        return {"object": "list", "data": [base, *loras]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one fake API
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _authorized(self) -> bool:
                bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
                if fake.api_key is not None and bearer != fake.api_key:
                    self._error(401, "Unauthorized", "AuthenticationError")
                    return False
                return True

            def do_GET(self) -> None:
                fake.requests.append({"path": self.path, "body": None})
                if not self._authorized():
                    return
                if self.path == "/v1/models":
                    return self._json(200, fake._models())
                return self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body})
                if not self._authorized():
                    return
                if self.path == "/v1/chat/completions":
                    return self._chat(body)
                if self.path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
                    if not fake.runtime_loading:  # vLLM without runtime updating: no route
                        return self._json(404, {"detail": "Not Found"})
                    if self.path == "/v1/load_lora_adapter":
                        return self._load(body)
                    return self._unload(body)
                return self._json(404, {"detail": "Not Found"})

            def _chat(self, body: dict[str, Any]) -> None:
                model = body.get("model")
                if model != fake.base_model and model not in fake.loras:
                    message = f"The model `{model}` does not exist."
                    return self._error(404, message, "NotFoundError")
                if fake.failures:
                    status = fake.failures.popleft()
                    return self._error(status, "scripted failure", "ServiceUnavailableError")
                if fake.hold is not None:
                    fake.arrived.set()
                    fake.hold.wait(120)
                text = fake.reply(body, fake.loras.get(model))
                if body.get("stream"):
                    return self._stream(body, text)
                return self._json(200, _completion(body, text))

            def _load(self, body: dict[str, Any]) -> None:
                name, path = body.get("lora_name", ""), body.get("lora_path", "")
                if name in fake.loras:
                    message = f"The lora adapter '{name}' has already been loaded."
                    return self._error(400, message, "InvalidUserInput")
                if not (Path(path) / "adapter_config.json").is_file():
                    message = f"No adapter found for {path}"
                    return self._error(404, message, "NotFoundError")
                fake.loras[name] = Lora(path)
                self._text(200, f"Success: LoRA adapter '{name}' added successfully.")

            def _unload(self, body: dict[str, Any]) -> None:
                name = body.get("lora_name", "")
                if fake.loras.pop(name, None) is None:
                    message = f"The lora adapter '{name}' cannot be found."
                    return self._error(404, message, "NotFoundError")
                self._text(200, f"Success: LoRA adapter '{name}' removed successfully.")

            def _json(self, status: int, data: dict[str, Any]) -> None:
                self._send(status, json.dumps(data).encode(), "application/json")

            def _text(self, status: int, text: str) -> None:
                self._send(status, text.encode(), "text/plain; charset=utf-8")

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                if status == 429:
                    self.send_header("retry-after-ms", "5")  # keep the SDK's wait short
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str, kind: str) -> None:
                error = {"message": message, "type": kind, "param": None, "code": status}
                self._json(status, {"error": error})

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                head = _chunk(body, {"role": "assistant", "content": ""}, None)
                self._event(head)
                words = re.findall(r"\S+\s*", text)
                for word in words:
                    self._event(_chunk(body, {"content": word}, None))
                self._event(_chunk(body, {}, "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = _chunk(body, {}, None)
                    usage["choices"] = []
                    usage["usage"] = _usage(body, text)
                    self._event(usage)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, data: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

        return Handler


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = len(json.dumps(body.get("messages", []))) // 4
    completion = len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": []}
    finish = "stop"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):  # a forced function call: the reply is its arguments
            name = choice["function"]["name"]
            call: dict[str, Any] = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function"}
            call["function"] = {"name": name, "arguments": json.dumps(data)}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(body, text),
    }
