"""The `adaptrag` command: a thin layer over the Python API, one module per command group.

Every command takes `--json` for one machine-readable object on stdout. Errors are one
line on stderr; exit codes: 0 ok, 1 some input file failed (the rest was stored),
2 bad usage or configuration, 3 the store, a model or adaptrag itself failed at run time,
4 no disk space left for the store (the data stored so far is intact), 130 interrupted
(Ctrl-C or SIGTERM; an ingest stores what it embedded and says where it stopped).
"""

from __future__ import annotations

# Importing the command modules registers their commands on `app`.
from adaptrag.cli import (  # noqa: F401
    adapters_cmd,
    ask_cmd,
    collections_cmd,
    config_cmd,
    documents_cmd,
    embeddings_cmd,
    eval_cmd,
    ingest_cmd,
    mcp_cmd,
    models_cmd,
    serve_cmd,
)
from adaptrag.cli.base import app, cli_terms, exit_code

__all__ = ["app", "cli_terms", "exit_code", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
