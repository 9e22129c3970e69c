"""The knowledge base as an MCP server: `search`, `ask` and `list_domains` tools.

Agents and assistants reach adaptrag the way they reach other tools (Model Context
Protocol, through the `mcp` SDK). Two transports, one set of tools over the same `Server`
(limits, deadlines, metrics) as the HTTP API:

- **streamable HTTP** at `/mcp` of `adaptrag serve`: behind the same `Guard`, so a key
  is checked before the body is read and its domain rules scope every tool (a search
  filters in the store; an adapter or domain outside the key is refused);
- **stdio** (`adaptrag mcp`): a process an assistant starts on the user's machine; it
  reads every domain, or those of `--domain`.

Errors are the tool's error result with our one-line message (`ToolError`), never a crash.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.errors import AdaptragError
from adaptrag.rag.settings import Settings
from adaptrag.server.auth import OPEN_ACCESS, Access, Forbidden, Keyring
from adaptrag.server.dependencies import Server, readable_domains
from adaptrag.server.errors import ApiError, error_response, problems
from adaptrag.server.routes.answers import answer_one, request_query
from adaptrag.server.schemas import AskRequest, RetrieveRequest
from adaptrag.version import __version__

INSTRUCTIONS = (
    "adaptrag answers questions from a team's own documents. `list_domains` names the "
    "document collections you may read; `search` returns the passages that best match a "
    "question (with their document ids and scores); `ask` answers from those passages with "
    "numbered citations and says which values its sources hold (`grounding`)."
)
T = TypeVar("T")
MCP_PATH = "/mcp"


def _caller(context: Context[Any, Any], fallback: Access) -> Access:
    """The key's rights: set by the Guard over HTTP; over stdio, the process's own."""
    request = context.request_context.request if context.request_context else None
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    found = state.get("access")
    return found if isinstance(found, Access) else fallback


async def _tool(work: Callable[[], Awaitable[T]], hide: Callable[[str], str]) -> T:
    """Run a tool's work; our errors become the tool's error result, in one line, without
    the server's folders (`hide`)."""
    try:
        return await work()
    except (AdaptragError, ApiError, Forbidden) as error:
        raise ToolError(hide(str(error))) from error
    except ValidationError as error:  # a request body the HTTP API would answer with a 422
        raise ToolError(f"invalid arguments: {problems(error.errors())}") from error


def build_mcp(server: Server, *, access: Access | None = None) -> MCPServer:
    """The MCP server over `server`. `access` is the caller when no key names one (stdio;
    default: every domain)."""
    fallback = access or OPEN_ACCESS
    mcp = MCPServer(name="adaptrag", instructions=INSTRUCTIONS, version=__version__)

    @mcp.tool(description="The document domains (collections of documents) you may search and ask.")
    async def list_domains(ctx: Context[Any, Any]) -> list[str]:
        caller = _caller(ctx, fallback)
        return await _tool(
            lambda: server.blocking(readable_domains, server, caller), server.paths.text
        )

    @mcp.tool(
        description="The passages of the documents that best match a question, best first: "
        "text, document id, chunk id, score and metadata. No answer is written."
    )
    async def search(
        question: str,
        ctx: Context[Any, Any],
        domain: str | None = None,
        top_k: int | None = None,
        doc_id: str | None = None,
    ) -> list[dict[str, Any]]:
        caller = _caller(ctx, fallback)

        async def work() -> list[dict[str, Any]]:
            body = RetrieveRequest.model_validate(
                {"question": question, "domain": domain, "top_k": top_k, "doc_id": doc_id}
            )
            sources = await server.blocking(server.qa.retrieve, request_query(server, body, caller))
            return [server.paths.source(s.to_dict()) for s in sources]

        return await _tool(work, server.paths.text)

    @mcp.tool(
        description="Answer a question from the documents: the answer text with [n] "
        "citations, the sources it was given, which of its values (numbers, dates, "
        "amounts) the sources hold (grounding), and which model answered (route)."
    )
    async def ask(
        question: str,
        ctx: Context[Any, Any],
        domain: str | None = None,
        top_k: int | None = None,
        doc_id: str | None = None,
    ) -> dict[str, Any]:
        caller = _caller(ctx, fallback)

        async def work() -> dict[str, Any]:
            body = AskRequest.model_validate(
                {"question": question, "domain": domain, "top_k": top_k, "doc_id": doc_id}
            )
            query = request_query(server, body, caller)
            answer = await server.blocking(answer_one, server, query, caller)
            server.metrics.answered(answer)
            return server.paths.answer(answer.to_dict())

        return await _tool(work, server.paths.text)

    return mcp


class McpGate:
    """What stands between a request to `/mcp` and the SDK: POST only, and a bound on the
    requests in flight, per key and in all.

    The server is stateless and answers every POST with JSON, so it never sends anything
    on a `GET` event stream (which the SDK would hold open without limit) and has no
    session to `DELETE`: both get the 405 the MCP specification provides for that case
    (`Allow: POST`), and SDK clients, which open that stream only for a session, never ask
    for it. A POST's tool work runs under the request deadline like every route's.
    """

    def __init__(self, app: ASGIApp, *, per_key: int, total: int) -> None:
        self.app, self.per_key, self.total = app, per_key, total
        self._in_flight: Counter[str] = Counter()  # by key name; the event loop's thread only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the gate does not admit; pass the rest to the SDK, counted."""
        key = str(scope.get("state", {}).get("key") or "anonymous")
        refusal = self._refusal(scope.get("method", ""), key)
        if refusal is not None:
            status, message, kind, headers = refusal
            response = error_response(status, message, kind, scope.get("path", MCP_PATH))
            response.headers.update(headers)
            await response(scope, receive, send)
            return
        self._in_flight[key] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]

    def _refusal(self, method: str, key: str) -> tuple[int, str, str, dict[str, str]] | None:
        """Why a request is refused (status, message, type, headers); None: admitted."""
        if method != "POST":
            return (
                405,
                f"{method} is not allowed on {MCP_PATH}: this MCP server is stateless and "
                "answers each POST with JSON (no event stream, no session)",
                "method_not_allowed",
                {"Allow": "POST"},
            )
        if self._in_flight[key] >= self.per_key:
            return (
                429,
                f"this key has {self.per_key} MCP requests in flight; wait for one to end "
                "(ADAPTRAG_MAX_MCP_REQUESTS_PER_KEY)",
                "too_many_requests",
                {"Retry-After": "1"},
            )
        if sum(self._in_flight.values()) >= self.total:
            return (
                503,
                f"{self.total} MCP requests are in flight; retry (ADAPTRAG_MAX_MCP_REQUESTS)",
                "busy",
                {},  # error_response adds Retry-After to every 503
            )
        return None


def mcp_app(server: Server) -> Starlette:
    """The streamable HTTP app serving `build_mcp(server)` at `MCP_PATH` (stateless, JSON
    responses: any worker answers any request) behind `McpGate`. With API keys, the key
    guards it; without, the SDK's DNS-rebinding check admits loopback hosts only (as
    `serve` binds without keys only there, unless --insecure)."""
    security = (
        TransportSecuritySettings(enable_dns_rebinding_protection=False)
        if server.keyring.enabled
        else None
    )
    app = build_mcp(server).streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )
    settings = server.settings
    app.router.routes[:] = [
        Route(
            route.path,
            McpGate(
                route.app,
                per_key=settings.server.max_mcp_requests_per_key,
                total=settings.server.max_mcp_requests,
            ),
        )
        if isinstance(route, Route) and route.path == MCP_PATH
        else route
        for route in app.router.routes
    ]
    return app


def serve_stdio(settings: Settings, *, domains: Sequence[str] = ()) -> None:
    """Serve the MCP tools on stdin/stdout until the client closes them (`adaptrag mcp`).

    The process reads every domain, or only `domains`. Logs go to stderr: stdout is the
    protocol's.
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    access = Access(name="stdio", domains=frozenset(domains) if domains else None)
    with Pipeline(settings) as qa:
        server = Server(settings, qa, Keyring([]))
        server.ready.set()
        build_mcp(server, access=access).run("stdio")
