"""The Claude backend: the real anthropic SDK over HTTP against the fake Messages API."""

from __future__ import annotations

import threading
import time
import typing
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types.model_param import ModelParam
from helpers.fake_anthropic import UNKNOWN_MODEL, FakeAnthropic

from adaptrag.rag.errors import BackendError, ConfigError, UpstreamAuthError
from adaptrag.rag.generators.base import Generation
from adaptrag.rag.generators.claude import ClaudeGenerator, Prices
from adaptrag.rag.prompts import SYSTEM_PROMPT, build_prompt
from adaptrag.rag.settings import DEFAULT_CLAUDE_MODEL
from adaptrag.rag.types import Source, Usage

SOURCES = [
    Source("lease.md", "c1", "The tenant gives ninety days notice. Rent is due monthly.", 0.9),
    Source("nda.txt", "c2", "Confidentiality lasts four years.", 0.5),
]
PROMPT = build_prompt("How much notice does the tenant give?", SOURCES)


@pytest.fixture
def claude(claude_env: FakeAnthropic) -> Iterator[Callable[..., ClaudeGenerator]]:
    """Builds Claude generators on the fake API and closes their connections afterwards."""
    built: list[ClaudeGenerator] = []

    def build(*args: Any, **kwargs: Any) -> ClaudeGenerator:
        built.append(ClaudeGenerator(*args, **kwargs))
        return built[-1]

    yield build
    for generator in built:
        generator.close()


def test_default_model_is_current_in_the_installed_sdk() -> None:
    known = typing.get_args(typing.get_args(ModelParam)[0])
    assert DEFAULT_CLAUDE_MODEL in known
    assert DEFAULT_CLAUDE_MODEL not in DEPRECATED_MODELS


def test_generate_sends_a_cached_system_prompt_and_returns_usage_and_cost(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.cache_read_input_tokens = 100
    generation = claude(prices=Prices(3.0, 15.0)).generate(PROMPT, max_new_tokens=64)

    assert generation.text == "The tenant gives ninety days notice. [1]"
    assert generation.model == DEFAULT_CLAUDE_MODEL
    body = claude_env.requests[-1]["body"]
    assert body["model"] == DEFAULT_CLAUDE_MODEL
    assert body["max_tokens"] == 64
    assert body["system"] == [
        {"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [{"role": "user", "content": PROMPT.user}]
    usage = generation.usage
    assert usage.input_tokens > 0 and usage.output_tokens == 7
    assert usage.cache_read_input_tokens == 100
    expected = (usage.input_tokens * 3.0 + 100 * 0.3 + 7 * 15.0) / 1_000_000
    assert usage.cost_usd == pytest.approx(expected)


def test_stream_yields_deltas_from_sse_then_the_generation(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    events = list(claude().stream(PROMPT, max_new_tokens=64))

    deltas, final = events[:-1], events[-1]
    assert len(deltas) > 3 and all(isinstance(d, str) for d in deltas)
    assert isinstance(final, Generation)
    assert "".join(str(d) for d in deltas).strip() == final.text
    assert final.usage.output_tokens == len(final.text.split())
    assert claude_env.requests[-1]["body"]["stream"] is True


@pytest.mark.parametrize("status", [429, 529, 500])
def test_transient_failures_are_retried_by_the_sdk_then_succeed(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator], status: int
) -> None:
    claude_env.fail_next(status, status)
    generation = claude(max_retries=2).generate(PROMPT, max_new_tokens=32)

    assert generation.text.endswith("[1]")
    assert len(claude_env.requests) == 3


def test_overload_after_all_retries_is_its_own_clear_error(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.fail_next(529, 529)
    with pytest.raises(BackendError, match=r"overloaded \(529\) after 1 retries"):
        claude(max_retries=1).generate(PROMPT, max_new_tokens=32)


def test_rate_limit_after_all_retries_names_the_concurrency_setting(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.fail_next(429)
    with pytest.raises(BackendError, match=r"429.*ADAPTRAG_CLAUDE_CONCURRENCY"):
        claude(max_retries=0).generate(PROMPT, max_new_tokens=32)


def test_bad_key_is_a_one_line_auth_error(
    claude_env: FakeAnthropic,
    claude: Callable[..., ClaudeGenerator],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-wrong")
    with pytest.raises(UpstreamAuthError, match=r"rejected the API key \(401\).*ANTHROPIC_API_KEY"):
        claude().generate(PROMPT, max_new_tokens=32)
    assert len(claude_env.requests) == 1  # 401 is not retried


def test_unknown_model_is_a_clear_error_naming_the_setting(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    with pytest.raises(ConfigError, match=f"{UNKNOWN_MODEL}.*ADAPTRAG_CLAUDE_MODEL"):
        claude(UNKNOWN_MODEL).generate(PROMPT, max_new_tokens=32)


def test_missing_key_names_the_environment_variable() -> None:
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        ClaudeGenerator().generate(PROMPT, max_new_tokens=32)


def test_timeout_is_reported_with_the_setting_to_raise(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.delay_s = 1.0
    with pytest.raises(BackendError, match=r"within 0.2 s.*ADAPTRAG_CLAUDE_TIMEOUT_S"):
        claude(timeout_s=0.2, max_retries=0).generate(PROMPT, max_new_tokens=32)


def test_an_error_event_inside_the_stream_is_translated(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.stream_error = "overloaded_error"
    with pytest.raises(BackendError, match="overloaded"):
        list(claude(max_retries=0).stream(PROMPT, max_new_tokens=32))


def test_generate_many_runs_concurrently_and_keeps_order(
    claude_env: FakeAnthropic, claude: Callable[..., ClaudeGenerator]
) -> None:
    claude_env.hold = threading.Event()  # every call waits at the API until released
    prompts = [
        build_prompt(f"question {n}", [Source(f"d{n}", f"c{n}", f"Fact number {n}.", 1.0)])
        for n in range(4)
    ]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(claude(concurrency=4).generate_many, prompts, max_new_tokens=16)
        try:
            deadline = time.monotonic() + 60
            while len(claude_env.requests) < 4:  # all four in flight at once, none answered
                assert time.monotonic() < deadline and not running.done(), "calls not overlapped"
                time.sleep(0.01)
        finally:
            claude_env.hold.set()
        generations = running.result(timeout=60)
    assert [g.text for g in generations] == [f"Fact number {n}. [1]" for n in range(4)]


def test_cost_of_cache_writes_and_reads_uses_their_multipliers() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
    )
    assert Prices(2.0, 10.0).cost(usage) == pytest.approx(2.0 + 0.2 + 2.5 + 10.0)
