"""The OpenAI protocol (issue 27): the real `openai` SDK and LangChain's `ChatOpenAI` pointed
at the real server, JSON and streaming, model ids, key scopes and errors in OpenAI's shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from helpers.fake_anthropic import FakeAnthropic
from helpers.server import ADMIN, FINANCE, Served
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

QUESTION = "What is the annual base rent?"


@pytest.fixture
def clients(served: Served) -> Iterator[Callable[..., openai.OpenAI]]:
    """`clients(key=ADMIN)`: an SDK client of the server; all closed after the test."""
    made: list[openai.OpenAI] = []

    def make(key: str = ADMIN) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_models_lists_what_the_key_may_use(
    served: Served,
    clients: Callable[..., openai.OpenAI],
) -> None:
    every = {m.id for m in clients().models.list()}
    assert {"adaptrag", "adaptrag/legal", "adaptrag/legal:base", "adaptrag/finance"} <= every
    finance = {m.id for m in clients(FINANCE).models.list()}
    assert "adaptrag/finance:local" in finance
    assert not {m for m in finance if "legal" in m}  # no other domain, not even its name


def test_a_completion_answers_from_the_domain_with_the_answer_in_an_extra_field(
    served: Served,
    clients: Callable[..., openai.OpenAI],
) -> None:
    done = clients().chat.completions.create(
        model="adaptrag/legal",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": QUESTION},
        ],
        max_tokens=8,
        temperature=0.2,  # accepted, ignored: answers are greedy
    )
    choice = done.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert done.usage is not None and 0 < done.usage.completion_tokens <= 8
    assert done.model == "adaptrag/legal" and done.id.startswith("chatcmpl-")
    extra = (done.model_extra or {})["adaptrag"]
    assert {s["metadata"]["domain"] for s in extra["sources"]} == {"legal"}
    assert extra["grounding"]["action"] == "kept" and extra["backend"] == "local"


def test_a_stream_sends_deltas_then_a_final_chunk_with_the_answer(
    served: Served,
    clients: Callable[..., openai.OpenAI],
) -> None:
    chunks = list(
        clients().chat.completions.create(
            model="adaptrag/legal:base",
            messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1
    extra = (finals[0].model_extra or {})["adaptrag"]
    assert text.strip() and "text" not in extra  # the deltas are the text; the rest is here
    assert extra["adapter"] is None  # :base is the base model
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_errors_come_in_openai_shape_and_the_sdk_raises_its_own_classes(
    served: Served,
    clients: Callable[..., openai.OpenAI],
) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        clients().chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert "no model 'gpt-4o'; GET /v1/models lists them" in unknown.value.message
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):  # another domain is not even named
        clients(FINANCE).chat.completions.create(
            model="adaptrag/legal", messages=[{"role": "user", "content": QUESTION}]
        )
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        clients("not-a-key-of-this-server-000").models.list()
    assert "missing or unknown API key" in unauthorized.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        clients().chat.completions.create(
            model="adaptrag", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert "no user message" in empty.value.message


def test_claude_answers_through_the_backend_in_the_model_id(
    served: Served, clients: Callable[..., openai.OpenAI], claude_env: FakeAnthropic
) -> None:
    done = clients().chat.completions.create(
        model="adaptrag/legal:claude", messages=[{"role": "user", "content": QUESTION}]
    )
    assert (done.model_extra or {})["adaptrag"]["backend"] == "claude"
    assert done.choices[0].message.content and done.choices[0].message.content.endswith("[1]")


def test_langchain_chat_openai_talks_to_the_server(served: Served) -> None:
    chat = ChatOpenAI(
        base_url=f"{served.url}/v1",
        api_key=SecretStr(ADMIN),
        model="adaptrag/legal",
        max_completion_tokens=8,
    )
    message = chat.invoke(QUESTION)
    assert isinstance(message.content, str) and message.content
    streamed = "".join(str(part.content) for part in chat.stream(QUESTION))
    assert streamed.strip() == message.content.strip()  # greedy: the same answer


def test_the_async_sdk_streams_and_a_key_cannot_reach_another_domain(served: Served) -> None:
    async def talk() -> tuple[str, openai.NotFoundError]:
        async with openai.AsyncOpenAI(
            base_url=f"{served.url}/v1", api_key=FINANCE, max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model="adaptrag/finance",
                messages=[{"role": "user", "content": QUESTION}],
                max_tokens=8,
                stream=True,
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            try:
                await client.chat.completions.create(
                    model="adaptrag/legal", messages=[{"role": "user", "content": QUESTION}]
                )
            except openai.NotFoundError as error:
                return text, error
            raise AssertionError("a finance key was answered from legal")

    text, hidden = asyncio.run(talk())
    assert text.strip()
    assert hidden.code == "model_not_found"  # the same answer as for a domain that is not


def test_a_follow_up_in_a_conversation_is_searched_with_its_earlier_turns(
    served: Served,
    clients: Callable[..., openai.OpenAI],
) -> None:
    def sources(messages: list[dict[str, str]]) -> list[str]:
        done = clients().chat.completions.create(
            model="adaptrag/legal",
            messages=messages,  # type: ignore[arg-type]
            max_tokens=4,
        )
        return [s["doc_id"] for s in (done.model_extra or {})["adaptrag"]["sources"]]

    follow_up = {"role": "user", "content": "How long must it be kept confidential?"}
    turns = [
        {"role": "user", "content": "Who signed the Orbit Robotics non-disclosure agreement?"},
        {"role": "assistant", "content": "Orbit Robotics Inc. and Felsgrund Capital AG [1]."},
        follow_up,
    ]
    assert sources(turns)[0] == "orbit-nda.txt"
    # /v1/ask takes the same history.
    response = httpx.post(
        f"{served.url}/v1/ask",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={
            "question": follow_up["content"],
            "domain": "legal",
            "max_new_tokens": 4,
            "history": [{"role": t["role"], "content": t["content"]} for t in turns[:2]],
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.json()["sources"][0]["doc_id"] == "orbit-nda.txt"
