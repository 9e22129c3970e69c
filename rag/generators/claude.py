"""Claude through the `anthropic` SDK's Messages API.

The SDK reads `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`; its own retry loop (exponential
backoff honouring `retry-after`) handles 429, 5xx, 529 and timeouts, configured here.
The system prompt is marked for prompt caching. Every SDK failure becomes one of our errors
with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anthropic

from adaptrag.rag.errors import BackendError, ConfigError, UpstreamAuthError
from adaptrag.rag.generators.base import Generation
from adaptrag.rag.generators.sdk_errors import Messages, translate
from adaptrag.rag.infra.deadline import client_in_time
from adaptrag.rag.infra.secrets import claude_configured
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings import DEFAULT_CLAUDE_MODEL
from adaptrag.rag.settings.sections import ClaudeSettings
from adaptrag.rag.types import Usage

KEY_ENV = "ANTHROPIC_API_KEY"
ERRORS: Messages = {
    "auth": (
        UpstreamAuthError,
        f"Anthropic rejected the API key (401); check {KEY_ENV} or use backend=local",
    ),
    "permission": (
        ConfigError,
        "this Anthropic key may not use {model} (403); check the key's workspace or set "
        "ADAPTRAG_CLAUDE_MODEL",
    ),
    "not_found": (
        ConfigError,
        "Claude model {model} does not exist or is not available to this key (404); set "
        f"ADAPTRAG_CLAUDE_MODEL, e.g. to {DEFAULT_CLAUDE_MODEL}",
    ),
    "rate_limit": (
        BackendError,
        "Anthropic rate limit hit (429) {retries}; lower ADAPTRAG_CLAUDE_CONCURRENCY or try "
        "again later",
    ),
    "overloaded": (
        BackendError,
        "Anthropic is overloaded (529) {retries}; try again later or use backend=local",
    ),
    "timeout": (
        BackendError,
        "Claude did not answer within {timeout} s {retries}; raise ADAPTRAG_CLAUDE_TIMEOUT_S "
        "or try again",
    ),
    "connection": (
        BackendError,
        "cannot reach the Anthropic API ({exc}); check the network or ANTHROPIC_BASE_URL",
    ),
    "bad_request": (ConfigError, "Anthropic refused the request (400): {message}"),
    "status": (BackendError, "Anthropic API error {status} {retries}: {message}"),
    "other": (BackendError, "Anthropic API error: {exc}"),
}
CONTEXT_TOKENS = 200_000
CHARS_PER_TOKEN = 3  # no local tokenizer for Claude: over-count, so budgets stay safe


@dataclass(frozen=True)
class Prices:
    """USD per million tokens; cache reads cost 0.1x input, cache writes 1.25x."""

    input_usd_per_mtok: float = 3.0
    output_usd_per_mtok: float = 15.0

    def cost(self, usage: Usage) -> float:
        """Estimated cost of one request."""
        paid = (
            usage.input_tokens * self.input_usd_per_mtok
            + usage.cache_read_input_tokens * self.input_usd_per_mtok * 0.1
            + usage.cache_creation_input_tokens * self.input_usd_per_mtok * 1.25
            + usage.output_tokens * self.output_usd_per_mtok
        )
        return round(paid / 1_000_000, 8)


class ClaudeGenerator:
    """Answers with a Claude model; one SDK client, shared by threads."""

    backend = "claude"

    @classmethod
    def from_section(cls, section: ClaudeSettings) -> ClaudeGenerator:
        """The generator the `claude` settings section describes."""
        return cls(
            section.claude_model,
            timeout_s=section.claude_timeout_s,
            max_retries=section.claude_max_retries,
            concurrency=section.claude_concurrency,
            prices=Prices(section.claude_input_usd_per_mtok, section.claude_output_usd_per_mtok),
        )

    def __init__(
        self,
        model: str = DEFAULT_CLAUDE_MODEL,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        prices: Prices | None = None,
    ) -> None:
        self._model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.prices = prices or Prices()
        self._client: anthropic.Anthropic | None = None

    @property
    def model(self) -> str:
        """The Claude model id."""
        return self._model

    @property
    def client(self) -> anthropic.Anthropic:
        """The SDK client, built on first use once a key is known to be configured."""
        if self._client is None:
            if not claude_configured():
                raise ConfigError(
                    f"no Anthropic API key: set {KEY_ENV} to use Claude, or answer with the "
                    "local model (backend=local)"
                )
            self._client = anthropic.Anthropic(timeout=self.timeout_s, max_retries=self.max_retries)
        return self._client

    def load(self) -> None:
        """Nothing to load: Claude is an API."""

    def close(self) -> None:
        """Close the SDK client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def prompt_budget(self, max_new_tokens: int) -> int:
        """Claude's context window minus room for the answer."""
        return CONTEXT_TOKENS - max_new_tokens

    def count_tokens(self, prompt: Prompt) -> int:
        """An upper estimate (characters / 3): counting exactly would cost a request."""
        return (len(prompt.system) + len(prompt.user)) // CHARS_PER_TOKEN + 16

    def _request(self, prompt: Prompt, max_new_tokens: int) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self._model,
            "max_tokens": max_new_tokens,
            "system": [
                {"type": "text", "text": prompt.system, "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [{"role": "user", "content": prompt.user}],
        }
        if prompt.tool is not None:  # structured output: the reply is this tool's call
            tool = prompt.tool
            request["tools"] = [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                }
            ]
            request["tool_choice"] = {"type": "tool", "name": tool.name}
        return request

    def _generation(self, message: Any) -> Generation:
        text = "".join(block.text for block in message.content if block.type == "text")
        calls = [block.input for block in message.content if block.type == "tool_use"]
        data = calls[0] if calls and isinstance(calls[0], dict) else None
        raw = message.usage
        usage = Usage(
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cache_read_input_tokens=raw.cache_read_input_tokens or 0,
            cache_creation_input_tokens=raw.cache_creation_input_tokens or 0,
        )
        usage = Usage(**{**usage.__dict__, "cost_usd": self.prices.cost(usage)})
        model = str(message.model or self._model)
        return Generation(text=text.strip(), model=model, usage=usage, data=data)

    def _client_in_time(self) -> anthropic.Anthropic:
        """The client, given no more time per attempt than the request has left."""
        return client_in_time(self.client, self.timeout_s, "the Claude call")

    def generate(self, prompt: Prompt, *, max_new_tokens: int) -> Generation:
        """One Messages API call (retried by the SDK on transient failures)."""
        client = self._client_in_time()
        try:
            message = client.messages.create(**self._request(prompt, max_new_tokens))
        except anthropic.APIError as exc:
            raise self._error(exc) from exc
        return self._generation(message)

    def generate_many(self, prompts: Sequence[Prompt], *, max_new_tokens: int) -> list[Generation]:
        """Concurrent calls, at most `concurrency` in flight, in the caller's order."""
        self.client  # noqa: B018  (a missing key fails once, before any thread starts)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(
                pool.map(lambda p: self.generate(p, max_new_tokens=max_new_tokens), prompts)
            )

    def stream(self, prompt: Prompt, *, max_new_tokens: int) -> Iterator[str | Generation]:
        """Text deltas from the SSE stream, then the `Generation` with usage."""
        client = self._client_in_time()
        try:
            with client.messages.stream(**self._request(prompt, max_new_tokens)) as events:
                for delta in events.text_stream:
                    if delta:
                        yield delta
                message = events.get_final_message()
        except anthropic.APIError as exc:
            raise self._error(exc) from exc
        yield self._generation(message)

    def _error(self, exc: anthropic.APIError) -> Exception:
        """One of our errors, saying what happened and what to do."""
        return translate(
            exc,
            ERRORS,
            where="the Anthropic API",
            retries=f"after {self.max_retries} retries",
            model=repr(self._model),
            timeout=f"{self.timeout_s:g}",
        )
