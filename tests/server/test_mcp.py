"""MCP (issue 27): the real `mcp` client library against the real server's /mcp (streamable
HTTP, keys and their domains) and against `adaptrag mcp` started as a process (stdio)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import ADMIN, FINANCE, SAMPLE, Served
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from adaptrag.ingest import ingest_paths
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

QUESTION = "What is the annual base rent?"


def payload(result: Any) -> Any:
    """A tool result's value: its structured content (unwrapped), else its text as JSON."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data["result"] if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def over_http(
    url: str, key: str | None, calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """Each tool call's result, in one session of the real client over streamable HTTP."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        assert {t.name for t in tools.tools} == {"search", "ask", "list_domains"}
        return [await session.call_tool(name, arguments) for name, arguments in calls]


def test_the_tools_answer_over_http_within_the_keys_domains(served: Served) -> None:
    domains, found, answered = asyncio.run(
        over_http(
            served.url,
            ADMIN,
            [
                ("list_domains", {}),
                ("search", {"question": QUESTION, "top_k": 2}),
                ("ask", {"question": QUESTION, "domain": "legal"}),
            ],
        )
    )
    assert payload(domains) == ["finance", "legal"]
    sources = payload(found)
    assert 0 < len(sources) <= 2 and sources[0]["doc_id"] == "northwind-lease.md"
    answer = payload(answered)
    assert answer["text"] and answer["sources"][0]["doc_id"] == "northwind-lease.md"
    assert "grounding" in answer and answer["route"]


def test_a_key_sees_and_searches_only_its_domains(served: Served) -> None:
    domains, found, refused = asyncio.run(
        over_http(
            served.url,
            FINANCE,
            [
                ("list_domains", {}),
                ("search", {"question": QUESTION}),
                ("ask", {"question": QUESTION, "domain": "legal"}),
            ],
        )
    )
    assert payload(domains) == ["finance"]
    assert {s["metadata"]["domain"] for s in payload(found)} == {"finance"}
    assert refused.is_error and "may not read or write domain 'legal'" in refused.content[0].text


def test_without_a_key_the_endpoint_is_refused_before_any_tool_runs(served: Served) -> None:
    with pytest.raises(BaseException, match="unhandled errors"):  # the client cannot start
        asyncio.run(over_http(served.url, None, [("list_domains", {})]))
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    response = httpx.post(f"{served.url}/mcp", json=initialize)
    assert response.status_code == 401 and "API key" in response.json()["error"]


def test_a_bad_argument_is_the_tools_error_not_a_crash(served: Served) -> None:
    (result,) = asyncio.run(over_http(served.url, ADMIN, [("search", {"question": ""})]))
    assert result.is_error and "question" in result.content[0].text


def test_adaptrag_mcp_serves_the_tools_over_stdio(
    tmp_path: Path, models_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_cache_dir=models_dir)
    for domain in ("legal", "finance"):
        ingest_paths([SAMPLE / domain], domain, settings=settings, embedder=embedder)
    env = {
        **os.environ,
        "ADAPTRAG_DATA_DIR": str(settings.data_dir),
        "ADAPTRAG_MODEL_CACHE_DIR": str(models_dir),
    }
    command = Path(sys.executable).with_name("adaptrag")
    parameters = StdioServerParameters(
        command=str(command), args=["mcp", "--domain", "legal"], env=env
    )

    async def session() -> list[Any]:
        async with stdio_client(parameters) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            return [
                await client.call_tool("list_domains", {}),
                await client.call_tool("search", {"question": QUESTION, "top_k": 1}),
                await client.call_tool("search", {"question": QUESTION, "domain": "finance"}),
            ]

    domains, found, refused = asyncio.run(session())
    assert payload(domains) == ["legal"]  # --domain legal: the process reads legal only
    assert payload(found)[0]["doc_id"] == "northwind-lease.md"
    assert refused.is_error and "domain 'finance'" in refused.content[0].text
