"""The local model with a domain's adapter as a LangChain chat model, in a user's own chain."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.adapters import random_adapter
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from adaptrag.adapters import add_adapter
from adaptrag.langchain import chat_model, conversation_prompt
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.completion import complete
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

MESSAGES = [
    SystemMessage("You answer in one short sentence."),
    HumanMessage("How many days notice does a tenant usually give?"),
]


@pytest.fixture(scope="module")
def qa(
    indexed_legal: Settings,
    embedder: SentenceTransformerEmbedder,
    models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """A pipeline with a legal adapter (random weights: it visibly changes answers) and its
    own base model, since adapters attach to the model they serve."""
    folder = tmp_path_factory.mktemp("chatpeft")
    add_adapter(random_adapter(models_dir, folder / "legal", 7), "legal", settings=indexed_legal)
    settings = indexed_legal.replaced(**{"max_new_tokens": 12, "temperature": 0.0})
    generator = LocalGenerator(models_dir=models_dir)
    with Pipeline(settings, embedder=embedder, generators={"local": generator}) as pipeline:
        yield pipeline


def test_the_chat_model_answers_with_the_adapter_and_the_base_without(qa: Pipeline) -> None:
    tuned, base = chat_model(qa, adapter="legal"), chat_model(qa)

    with_adapter, without = tuned.invoke(MESSAGES), base.invoke(MESSAGES)

    assert isinstance(with_adapter, AIMessage) and with_adapter.text
    assert with_adapter.text != without.text  # the adapter answered
    assert with_adapter.response_metadata["adapter"] == "legal"
    assert without.response_metadata["adapter"] == "base"
    usage = with_adapter.usage_metadata
    assert usage is not None and 0 < usage["output_tokens"] <= 12
    # the same as the pipeline's own completion with that adapter (greedy decoding)
    prompt = conversation_prompt(MESSAGES)
    assert with_adapter.text == complete(qa, prompt, adapter="legal").text
    # and the base model's answer is the base model's, whatever the adapter did before
    assert base.invoke(MESSAGES).text == without.text


def test_the_chat_model_works_in_a_chain_and_streams_tokens(qa: Pipeline) -> None:
    chat = chat_model(qa, adapter="legal")
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer in one short sentence."), ("human", "{question}")]
    )
    chain = prompt | chat | StrOutputParser()
    question = {"question": "How many days notice does a tenant usually give?"}

    text = chain.invoke(question)
    pieces = list(chain.stream(question))

    assert isinstance(text, str) and text == chat.invoke(MESSAGES).text
    assert len([p for p in pieces if p]) > 1  # token by token, not one block
    assert "".join(pieces) == text

    async def collect() -> list[str]:
        return [piece async for piece in chain.astream(question)]

    assert "".join(asyncio.run(collect())) == text


def test_stop_sequences_cut_the_text(qa: Pipeline) -> None:
    chat = chat_model(qa)
    whole = chat.invoke(MESSAGES).text
    words = whole.split()
    assert len(words) > 2
    stop = " " + words[2]

    cut = chat.invoke(MESSAGES, stop=[stop]).text
    streamed = "".join(str(c.content) for c in chat.stream(MESSAGES, stop=[stop]))

    assert cut == whole.split(stop, 1)[0] and cut == streamed


def test_an_unknown_adapter_or_message_kind_is_a_one_line_error(qa: Pipeline) -> None:
    with pytest.raises(ConfigError) as unknown:
        chat_model(qa, adapter="no-such-domain")
    assert "\n" not in str(unknown.value)
    with pytest.raises(ConfigError, match="system, human and ai messages, not 'tool'"):
        chat_model(qa).invoke([ToolMessage("42", tool_call_id="call_1")])
