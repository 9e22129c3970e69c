"""LangChain's own standard test suites (`langchain-tests`), as partner integrations run
them, against `PipelineRetriever` and `AdapterChatModel` over the real models.

Capability flags are set as they are: no tool calling, no structured output, no JSON mode,
no image, audio, video or PDF input; a per-call `model=` names the adapter; usage metadata
is returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import ChatModelIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from adaptrag.langchain import AdapterChatModel, PipelineRetriever
from adaptrag.rag import Pipeline

PIPELINE: dict[str, Pipeline] = {}


@pytest.fixture(scope="module", autouse=True)
def qa(local_qa: Pipeline) -> Iterator[Pipeline]:
    PIPELINE["qa"] = local_qa  # the suites read their parameters from properties
    yield local_qa
    PIPELINE.clear()


class _Capabilities:
    """What `AdapterChatModel` can do, declared truthfully."""

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AdapterChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"pipeline": PIPELINE["qa"]}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # max_tokens is LangChain's name for our max_new_tokens; short answers keep it quick.
        return {"temperature": 0, "max_tokens": 12, "timeout": 60, "stop": [], "max_retries": 2}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True  # `model=` names the call's adapter

    @property
    def model_override_value(self) -> str:
        return "base"


class TestAdapterChatModelUnit(_Capabilities, ChatModelUnitTests):
    """langchain-tests' unit suite for chat models."""


class TestAdapterChatModelIntegration(_Capabilities, ChatModelIntegrationTests):
    """langchain-tests' integration suite for chat models, on the real local model."""


class TestPipelineRetriever(RetrieversIntegrationTests):
    """langchain-tests' retriever suite: `k` on the constructor and per call."""

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return PipelineRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"pipeline": PIPELINE["qa"]}

    @property
    def retriever_query_example(self) -> str:
        return "How much notice does the tenant give?"
