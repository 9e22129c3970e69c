"""`adaptrag mcp`: the knowledge base as an MCP server over stdio."""

from __future__ import annotations

import typer

from adaptrag.cli.base import app, cli_settings
from adaptrag.cli.serve_cmd import SERVER_PACKAGES
from adaptrag.rag.errors import ConfigError


@app.command()
def mcp(
    ctx: typer.Context,
    domain: list[str] = typer.Option(
        [],
        "--domain",
        metavar="DOMAIN",
        help="Only this domain (repeat for more); default: every domain.",
    ),
) -> None:
    """Serve search, ask and list_domains to an MCP client over stdio (an assistant starts
    this command); over HTTP, `adaptrag serve` serves the same tools at /mcp."""
    try:
        from adaptrag.server.mcp import serve_stdio
    except ModuleNotFoundError as exc:
        if exc.name not in SERVER_PACKAGES:
            raise
        raise ConfigError(
            f"`adaptrag mcp` needs the server's packages ({exc.name} is missing): "
            "pip install 'adaptrag[server]'"
        ) from None
    serve_stdio(cli_settings(ctx), domains=domain)
