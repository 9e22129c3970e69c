"""The `adaptrag` command's frame: the Typer apps, error handling, shared options and output.

Every command takes `--json` for one machine-readable object on stdout. Errors are one
line on stderr; exit codes: 0 ok, 1 some input file failed (the rest was stored),
2 bad usage or configuration, 3 the store or a model failed at run time, 4 no disk space
left for the store, 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from adaptrag.rag.errors import (
    AdaptragError,
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    DiskFullError,
    IngestCancelledError,
    StoreError,
    UpstreamAuthError,
)
from adaptrag.rag.infra.tracing import configure_tracing
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.version import __version__

EXIT_FILE_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3
EXIT_DISK_FULL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


def exit_code(error: AdaptragError) -> int:
    """The exit status for one of our errors (the CLI's single mapping)."""
    if isinstance(error, CollectionNotFoundError | ConfigError | UpstreamAuthError):
        return EXIT_USAGE  # the user's own setting (a key) is what to fix
    if isinstance(error, DiskFullError):
        return EXIT_DISK_FULL
    if isinstance(error, IngestCancelledError):
        return EXIT_INTERRUPTED
    if isinstance(error, StoreError | BackendError):
        return EXIT_RUNTIME
    return EXIT_USAGE


def _reader_gone() -> NoReturn:
    """The reader of stdout went away (`adaptrag ... | head`): stop quietly, exit 0."""
    # Later writes, and the interpreter's last flush, go nowhere instead of raising again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise typer.Exit(0)


class _Group(TyperGroup):
    """Maps our errors to one stderr line and an exit code, for every subcommand."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # `--help` prints while the arguments are parsed
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _reader_gone()

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _reader_gone()
        except AdaptragError as error:
            typer.echo(f"error: {cli_terms(str(error))}", err=True)
            raise typer.Exit(exit_code(error)) from None
        except KeyboardInterrupt:  # Ctrl-C outside a run that words it itself
            typer.echo("error: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:  # a fault of ours: one line, the traceback kept aside
            if _is_cli_control_flow(error):
                if hasattr(error, "format_message"):  # a usage error: one line like ours
                    where = getattr(getattr(error, "ctx", None), "command_path", "adaptrag")
                    message = error.format_message().rstrip(".")
                    typer.echo(f"error: {message}; see `{where} --help`", err=True)
                    raise typer.Exit(getattr(error, "exit_code", EXIT_USAGE)) from None
                raise
            if (ctx.find_root().obj or {}).get("debug"):
                traceback.print_exc()
                where = "above"
            else:
                where = _save_traceback()
            typer.echo(
                f"error: unexpected {type(error).__name__}: {error}; the traceback is in "
                f"{where} (--debug prints it); please report it",
                err=True,
            )
            raise typer.Exit(EXIT_RUNTIME) from None


# The core names arguments as the Python API and the HTTP body do (`backend=local`); the
# command line says the same with its flags (`--backend local`).
_ARGUMENT = re.compile(r"\b(backend|adapter|domain|collection)=([\w./-]*)")


def cli_terms(message: str) -> str:
    """`message` with the core's argument names (`backend=local`) as CLI flags."""
    return _ARGUMENT.sub(lambda m: f"--{m[1]}" + (f" {m[2]}" if m[2] else ""), message)


def _is_cli_control_flow(error: Exception) -> bool:
    """Exit, Abort and usage errors of the CLI framework (click, or typer's copy of it)."""
    return type(error).__module__.split(".")[0] in ("click", "typer")


def _save_traceback() -> str:
    """Write the current exception's traceback to a file in the temp dir; its path."""
    handle, path = tempfile.mkstemp(prefix="adaptrag-error-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        traceback.print_exc(file=out)
    return path


app = typer.Typer(
    cls=_Group,
    rich_markup_mode=None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="adaptrag: hybrid RAG + per-domain LoRA adapters over your documents, on Qdrant.",
)


def _group(name: str, help_text: str) -> typer.Typer:
    """A command group (`adaptrag NAME ...`) with the root's error handling."""
    group = typer.Typer(cls=_Group, rich_markup_mode=None, no_args_is_help=True, help=help_text)
    app.add_typer(group, name=name)
    return group


collections_app = _group("collections", "List, inspect and drop collections.")
documents_app = _group("documents", "List, show and delete the documents of a domain.")
adapters_app = _group("adapters", "Train, list and manage per-domain LoRA adapters.")
embeddings_app = _group(
    "embeddings",
    "Tune the embedding model on a domain's questions (blue/green collection versions).",
)
eval_app = _group("eval", "Evaluate answer quality, compare runs, gate in CI.")
models_app = _group("models", "Install and check the default models' weights.")

JsonOption = typer.Option(False, "--json", help="Print one JSON object on stdout.")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"adaptrag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="YAML settings file (else ADAPTRAG_CONFIG).", dir_okay=False
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    debug: bool = typer.Option(
        False, "--debug", help="Print the traceback of an unexpected error on stderr."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        help="Print adaptrag's version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = {"config": config, "debug": debug}


def cli_settings(ctx: typer.Context, **overrides: Any) -> Settings:
    """The command's settings: `--config`, then the environment, with its options on top."""
    settings = load_settings((ctx.obj or {}).get("config"), **overrides)
    configure_tracing(settings.tracing.tracing)
    return settings


def emit(data: Any, as_json: bool, human: str) -> None:
    """Print a command's result: its JSON with `--json`, else the human line."""
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(human)


def cli_store(settings: Settings, name: str) -> Any:
    """The store of collection `name` itself, not the version serving it (its backend
    imported only now)."""
    from adaptrag.rag.stores import store_for

    return store_for(settings, name, follow=False)
