"""The OpenAI-compatible backend: the real openai SDK over HTTP against a fake vLLM server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from helpers.fake_openai import BASE_MODEL, FakeOpenAI

from adaptrag.rag import Pipeline
from adaptrag.rag.errors import BackendError, ConfigError, UpstreamAuthError
from adaptrag.rag.generators import make_generator
from adaptrag.rag.generators.openai import OpenAIGenerator
from adaptrag.rag.prompts import Tool, build_prompt
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

PROMPT = build_prompt(
    "How much notice does the tenant give?",
    [Source("lease", "c1", "The tenant gives ninety days notice. Rent is due.", 1.0, {})],
)


def generator(**settings: object) -> OpenAIGenerator:
    made = make_generator("openai", Settings(**settings))
    assert isinstance(made, OpenAIGenerator)
    return made


def test_a_completion_answers_with_the_served_base_model_and_its_usage(
    openai_env: FakeOpenAI,
) -> None:
    generation = generator().generate(PROMPT, max_new_tokens=32)
    assert generation.text == "The tenant gives ninety days notice. [1]"
    assert generation.model == BASE_MODEL  # the one base model the server lists
    assert generation.usage.input_tokens > 0 and generation.usage.output_tokens == 7
    body = openai_env.chat_requests()[-1]
    assert body["model"] == BASE_MODEL and body["max_tokens"] == 32
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_a_stream_yields_deltas_then_the_same_text_with_usage(openai_env: FakeOpenAI) -> None:
    events = list(generator().stream(PROMPT, max_new_tokens=32))
    *deltas, final = events
    assert len(deltas) == 7 and all(isinstance(d, str) for d in deltas)
    assert not isinstance(final, str)
    assert "".join(str(d) for d in deltas).strip() == final.text
    assert final.usage.output_tokens == 7
    body = openai_env.chat_requests()[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_rate_limits_and_unavailability_are_retried_then_succeed(openai_env: FakeOpenAI) -> None:
    openai_env.fail_next(429, 503)
    generation = generator().generate(PROMPT, max_new_tokens=16)
    assert generation.text.endswith("[1]")
    assert len(openai_env.chat_requests()) == 3


def test_a_server_that_stays_down_is_one_line_after_the_retries(openai_env: FakeOpenAI) -> None:
    openai_env.fail_next(503, 503)
    with pytest.raises(BackendError) as caught:
        generator(openai_max_retries=1).generate(PROMPT, max_new_tokens=16)
    message = str(caught.value)
    assert "(503) after 1 retries" in message and "\n" not in message
    assert len(openai_env.chat_requests()) == 2


def test_a_model_the_server_does_not_serve_names_what_it_serves(openai_env: FakeOpenAI) -> None:
    with pytest.raises(ConfigError, match=f"does not serve 'no-such-model'.*{BASE_MODEL}"):
        generator(openai_model="no-such-model").generate(PROMPT, max_new_tokens=8)


def test_an_unknown_adapter_name_is_rejected_by_the_server(openai_env: FakeOpenAI) -> None:
    with pytest.raises(
        ConfigError, match=f"does not serve 'legal-v9' \\(it serves: {BASE_MODEL}\\)"
    ):
        generator().generate(PROMPT, max_new_tokens=8, model="legal-v9")


def test_a_wrong_key_and_a_missing_server_are_one_line_errors(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_env.api_key = "the-right-key"
    with pytest.raises(UpstreamAuthError, match="ADAPTRAG_OPENAI_API_KEY"):
        generator(openai_api_key="a-wrong-key").generate(PROMPT, max_new_tokens=8)
    assert generator(openai_api_key="the-right-key").generate(PROMPT, max_new_tokens=8).text

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with pytest.raises(BackendError, match=r"cannot reach .* check ADAPTRAG_OPENAI_BASE_URL"):
        generator(openai_base_url=closed, openai_max_retries=0).generate(PROMPT, max_new_tokens=8)

    monkeypatch.delenv("ADAPTRAG_OPENAI_BASE_URL")
    with pytest.raises(ConfigError, match="set ADAPTRAG_OPENAI_BASE_URL"):
        generator().generate(PROMPT, max_new_tokens=8)


def test_the_prompt_budget_is_the_served_context_length(openai_env: FakeOpenAI) -> None:
    assert generator().prompt_budget(200) == openai_env.max_model_len - 200


def test_a_forced_tool_call_returns_its_arguments(openai_env: FakeOpenAI) -> None:
    openai_env.reply = lambda body, lora: '{"verdict": "correct"}'
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    prompt = build_prompt("q?", [])
    tooled = type(prompt)(prompt.system, prompt.user, (), tool=Tool("record", "r", schema))
    generation = generator().generate(tooled, max_new_tokens=16)
    assert generation.data == {"verdict": "correct"}
    body = openai_env.chat_requests()[-1]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "record"}}


def test_the_pipeline_answers_through_the_server(
    openai_env: FakeOpenAI, indexed_corpus: Settings, tmp_path: Path
) -> None:
    settings = indexed_corpus.replaced(**{"openai_base_url": openai_env.url})
    with Pipeline(settings) as qa:
        answer = qa.ask("How many days notice does the tenant give?", backend="openai")
        assert answer.backend == "openai" and answer.model == BASE_MODEL
        assert answer.route == "requested" and answer.citations[0].valid
        assert answer.usage.output_tokens > 0
        auto = qa.ask("How many days notice does the tenant give?")
        assert auto.backend == "openai"
        assert auto.route == "auto: no ANTHROPIC_API_KEY, so the inference server"
        *deltas, streamed = list(qa.stream("How many days notice?", backend="openai"))
        assert "".join(str(d) for d in deltas).strip() == getattr(streamed, "text", None)
