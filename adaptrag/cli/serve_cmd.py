"""`adaptrag serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import typer

from adaptrag.cli.base import (
    app,
    cli_settings,
)
from adaptrag.rag.errors import ConfigError

# The import names of the `adaptrag[server]` extra's packages (pyproject.toml).
SERVER_PACKAGES = {"fastapi", "starlette", "uvicorn", "multipart", "prometheus_client", "mcp"}

# --- serve -----------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback bind with no API keys configured."
    ),
) -> None:
    """Run the HTTP API (ask, stream, retrieve, ingest, collections, adapters, metrics)."""
    try:
        from adaptrag.server import serve as run_server
    except ModuleNotFoundError as exc:
        if exc.name not in SERVER_PACKAGES:
            raise
        raise ConfigError(
            f"`adaptrag serve` needs the server's packages ({exc.name} is missing): "
            "pip install 'adaptrag[server]'"
        ) from None

    run_server(cli_settings(ctx), host=host, port=port, insecure=insecure)
