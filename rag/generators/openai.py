"""OpenAI-compatible inference servers (vLLM first) through the `openai` SDK.

One base model is served; LoRA adapters are served beside it under their own names, and a
request picks one with `model=<name>` (vLLM's `--enable-lora`). `/v1/models` lists both: a
LoRA entry names its base in `parent`. Servers that allow it load and unload adapters at
run time (`POST /v1/load_lora_adapter`, vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).
The SDK retries 429, 5xx and timeouts with exponential backoff; every failure becomes one of
our errors with a message that says what to do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai

from adaptrag.rag.errors import (
    AdaptragError,
    BackendError,
    ConfigError,
    NotServedError,
    UpstreamAuthError,
)
from adaptrag.rag.generators.base import Generation, ServedModel
from adaptrag.rag.generators.sdk_errors import Messages, server_message, translate
from adaptrag.rag.infra.deadline import client_in_time
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings.sections import OpenAISettings
from adaptrag.rag.types import Usage

CHARS_PER_TOKEN = 3  # no tokenizer of the served model here: over-count, so budgets stay safe
URL_SETTING = "ADAPTRAG_OPENAI_BASE_URL"
ERRORS: Messages = {
    "auth": (
        UpstreamAuthError,
        "{where} rejected the API key (401); set ADAPTRAG_OPENAI_API_KEY to the server's --api-key",
    ),
    "not_found": (
        NotServedError,
        "{where} does not serve {model} ({serving}); set ADAPTRAG_OPENAI_MODEL to a served "
        "base model, or check the adapter's served name",
    ),
    "rate_limit": (
        BackendError,
        "{where} is rate limiting (429) {retries}; lower ADAPTRAG_OPENAI_CONCURRENCY or try "
        "again later",
    ),
    "timeout": (
        BackendError,
        "{where} did not answer within {timeout} s {retries}; raise ADAPTRAG_OPENAI_TIMEOUT_S "
        "or try again",
    ),
    "connection": (
        BackendError,
        f"cannot reach {{where}} {{retries}}; is it running? check {URL_SETTING}",
    ),
    "bad_request": (ConfigError, "{where} refused the request (400): {message}"),
    "status": (BackendError, "{where} failed ({status}) {retries}: {message}"),
    "other": (BackendError, "{where} failed: {exc}"),
}


class OpenAIGenerator:
    """Answers with the model (or a LoRA adapter) an OpenAI-compatible server serves.

    `model` is the served base model id; None takes the one base model the server lists.
    `context_tokens` is the context length when the server does not report `max_model_len`.
    """

    backend = "openai"

    @classmethod
    def from_section(cls, section: OpenAISettings) -> OpenAIGenerator:
        """The generator the `openai` settings section describes."""
        key = section.openai_api_key
        return cls(
            section.openai_base_url,
            api_key=key.get_secret_value() if key else None,
            model=section.openai_model,
            timeout_s=section.openai_timeout_s,
            max_retries=section.openai_max_retries,
            concurrency=section.openai_concurrency,
            context_tokens=section.openai_context_tokens,
        )

    def __init__(
        self,
        base_url: str | None,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 8,
        context_tokens: int = 8192,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.context_tokens = context_tokens
        self._model = model
        self._client: openai.OpenAI | None = None
        self._served: list[ServedModel] | None = None
        self._lock = threading.Lock()

    # --- the server ----------------------------------------------------------------------

    @property
    def client(self) -> openai.OpenAI:
        """The SDK client, built on first use once a server is configured."""
        with self._lock:
            if self._client is None:
                if not self.base_url:
                    raise ConfigError(
                        f"no OpenAI-compatible server configured: set {URL_SETTING} (e.g. "
                        "http://127.0.0.1:8000/v1 for vLLM), or use backend=local"
                    )
                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self.api_key or "EMPTY",  # vLLM without --api-key takes any key
                    timeout=self.timeout_s,
                    max_retries=self.max_retries,
                )
            return self._client

    def served(self, *, refresh: bool = False) -> list[ServedModel]:
        """What the server serves (`/v1/models`), cached until `refresh`."""
        if self._served is None or refresh:
            try:
                self._served = [_served_model(m) for m in self.client.models.list()]
            except openai.APIError as exc:
                raise self._error(exc, "/v1/models") from exc
        return self._served

    def base(self) -> ServedModel:
        """The served base model: the configured id, or the server's only base model."""
        served = self.served()
        bases = [m for m in served if m.parent is None]
        if self._model is None:
            if len(bases) != 1:
                names = ", ".join(m.id for m in bases) or "none"
                raise ConfigError(
                    f"the server at {self.base_url} serves {len(bases)} base models ({names}); "
                    "set ADAPTRAG_OPENAI_MODEL to the one to answer with"
                )
            return bases[0]
        found = next((m for m in served if m.id == self._model), None)
        if found is None:
            found = next((m for m in self.served(refresh=True) if m.id == self._model), None)
        if found is None:
            names = ", ".join(m.id for m in served) or "none"
            raise ConfigError(
                f"the server at {self.base_url} does not serve {self._model!r} (it serves: "
                f"{names}); set ADAPTRAG_OPENAI_MODEL to one of them"
            )
        return found

    @property
    def model(self) -> str:
        """The served base model id (as configured, else as the server lists it)."""
        return self._model if self._model is not None else self.base().id

    def load_adapter(self, name: str, path: str) -> bool:
        """Ask the server to load a LoRA adapter from `path` (a path the *server* can read)
        under `name`; False when the server does not allow loading at run time."""
        loaded = self._admin("/load_lora_adapter", {"lora_name": name, "lora_path": path})
        if loaded:
            self._served = None  # /v1/models lists it now
        return loaded

    def unload_adapter(self, name: str) -> bool:
        """Ask the server to unload adapter `name`; False when it does not allow it."""
        unloaded = self._admin("/unload_lora_adapter", {"lora_name": name})
        if unloaded:
            self._served = None
        return unloaded

    def _admin(self, route: str, body: dict[str, str]) -> bool:
        """POST to one of vLLM's LoRA routes; False when the server has no such route."""
        try:
            self.client.post(route, body=body, cast_to=httpx.Response)
        except openai.NotFoundError as exc:
            if _error_message(exc) in ("Not Found", ""):  # the route itself is missing
                return False
            raise ConfigError(
                f"the server refused {route} for {body['lora_name']!r}: {_error_message(exc)}"
            ) from exc
        except openai.APIError as exc:
            raise self._error(exc, route) from exc
        return True

    def load(self) -> None:
        """Nothing to load: the model runs on the inference server."""

    def close(self) -> None:
        """Close the SDK client's connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- the Generator seam --------------------------------------------------------------

    def prompt_budget(self, max_new_tokens: int) -> int:
        """The served model's context length (`max_model_len`) minus room for the answer."""
        length = self.base().max_model_len or self.context_tokens
        return length - max_new_tokens

    def count_tokens(self, prompt: Prompt) -> int:
        """An upper estimate (characters / 3): the server's tokenizer is not here."""
        text = sum(len(m["content"]) for m in prompt.messages())
        return text // CHARS_PER_TOKEN + 16

    def _request(self, prompt: Prompt, max_new_tokens: int, model: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": model or self.model,
            "messages": prompt.messages(),
            "max_tokens": max_new_tokens,
            "temperature": 0.0,
        }
        if prompt.tool is not None:  # structured output: the reply is this function's call
            tool = prompt.tool
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                }
            ]
            request["tool_choice"] = {"type": "function", "function": {"name": tool.name}}
        return request

    def _client_in_time(self) -> openai.OpenAI:
        """The client, given no more time per attempt than the request has left."""
        return client_in_time(self.client, self.timeout_s, "the inference server call")

    def generate(
        self, prompt: Prompt, *, max_new_tokens: int, model: str | None = None
    ) -> Generation:
        """One chat completion, by the base model or the served adapter `model`."""
        client = self._client_in_time()
        request = self._request(prompt, max_new_tokens, model)
        try:
            completion = client.chat.completions.create(**request)
        except openai.APIError as exc:
            raise self._error(exc, request["model"]) from exc
        message = completion.choices[0].message if completion.choices else None
        data = None
        if message is not None and message.tool_calls:
            call = message.tool_calls[0]
            data = _arguments(getattr(call, "function", None))
        return Generation(
            text=((message.content if message else None) or "").strip(),
            model=str(completion.model or request["model"]),
            usage=_usage(completion.usage),
            data=data,
        )

    def generate_many(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        models: Sequence[str | None] | None = None,
    ) -> list[Generation]:
        """Concurrent requests (the server batches them), at most `concurrency` in flight,
        in the caller's order; `models` names each prompt's served adapter (None: base)."""
        names = list(models) if models is not None else [None] * len(prompts)
        self.client  # noqa: B018  (a missing setting fails once, before any thread starts)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(
                pool.map(
                    lambda p, m: self.generate(p, max_new_tokens=max_new_tokens, model=m),
                    prompts,
                    names,
                )
            )

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, model: str | None = None
    ) -> Iterator[str | Generation]:
        """Text deltas from the SSE stream, then the `Generation` with usage."""
        client = self._client_in_time()
        request = self._request(prompt, max_new_tokens, model)
        parts: list[str] = []
        usage: Any = None
        served = request["model"]
        try:
            chunks = client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True}
            )
            with chunks:
                for chunk in chunks:
                    served = chunk.model or served
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            parts.append(delta)
                            yield delta
        except openai.APIError as exc:
            raise self._error(exc, request["model"]) from exc
        yield Generation(text="".join(parts).strip(), model=str(served), usage=_usage(usage))

    def _serving(self, exc: openai.APIError) -> str:
        """What the server says it serves, for an error message (its 404 when it cannot)."""
        try:
            return "it serves: " + ", ".join(m.id for m in self.served(refresh=True))
        except AdaptragError:  # only a message is at stake
            return f"404: {_error_message(exc)}"

    def _error(self, exc: openai.APIError, model: str) -> Exception:
        """One of our errors, saying what happened and what to do."""
        return translate(
            exc,
            ERRORS,
            where=f"the inference server at {self.base_url}",
            retries=f"after {self.max_retries} retries",
            model=repr(model),
            timeout=f"{self.timeout_s:g}",
            serving=lambda: self._serving(exc),
        )


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(input_tokens=raw.prompt_tokens or 0, output_tokens=raw.completion_tokens or 0)


def _arguments(function: Any) -> dict[str, Any] | None:
    """A function call's arguments (a JSON string on the wire), when they are an object."""
    try:
        data = json.loads(function.arguments) if function is not None else None
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _error_message(exc: openai.APIError) -> str:
    """The server's message, or "" when its body has none."""
    return server_message(exc, default="")


def _served_model(entry: Any) -> ServedModel:
    """A `/v1/models` entry from the SDK's model object (vLLM's extra fields kept by it)."""
    extra = entry.model_extra or {}
    length = extra.get("max_model_len")
    return ServedModel(
        id=str(entry.id),
        root=str(extra.get("root") or ""),
        parent=extra.get("parent") or None,
        max_model_len=int(length) if isinstance(length, int) else None,
    )
