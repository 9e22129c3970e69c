"""mkdocs hook: the reference pages, generated from the code at build time.

A page holding `<!-- reference: settings -->`, `<!-- reference: cli -->` or
`<!-- reference: http -->` gets, in its place, the tables made from the settings models
(`adaptrag.rag.settings.SECTIONS`), the CLI's commands (typer's click tree) and the HTTP
server's OpenAPI document. So the reference cannot drift from the code.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import typer

MARKER = re.compile(r"<!-- reference: (\w+) -->")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def settings_reference() -> str:
    """One table per section: YAML key, variable, default, meaning."""
    from pydantic_core import PydanticUndefined

    from adaptrag.rag.settings import SECTIONS

    out = []
    for key, section in SECTIONS:
        title = section.__name__.removesuffix("Settings")
        out += [f"## {title} (`{key}`)", "", " ".join((section.__doc__ or "").split()), ""]
        out += [
            f"Set each as its flat key or variable, or under the section: YAML `{key}: "
            f"{{name: value}}`, `ADAPTRAG_{key.upper()}__NAME`, `Settings({key}={{...}})`; "
            f"read it as `settings.{key}.name`.",
            "",
        ]
        out += ["| key | variable | default | meaning |", "|---|---|---|---|"]
        for name, field in section.model_fields.items():
            if field.default_factory is not None:
                default = "user data dir (`~/.local/share/adaptrag`)"
            elif field.default is None or field.default is PydanticUndefined:
                default = "unset"
            else:
                default = f"`{field.default}`" if field.default != "" else '`""`'
            out.append(
                f"| `{name}` | `ADAPTRAG_{name.upper()}` | {_cell(default)} | "
                f"{_cell(field.description or '')} |"
            )
        out.append("")
    return "\n".join(out)


def _commands(command: Any, path: str) -> list[tuple[str, Any]]:
    """The command and, for a group, its commands' (typer may bring its own click)."""
    found = [(path, command)]
    for name in sorted(getattr(command, "commands", {})):
        found += _commands(command.commands[name], f"{path} {name}")
    return found


def cli_reference() -> str:
    """Every command: its help, its usage line and its options."""
    from adaptrag.cli import app

    root = typer.main.get_command(app)
    out = []
    for path, command in _commands(root, "adaptrag"):
        if hasattr(command, "commands") and path != "adaptrag":
            continue  # a group's commands each have their own entry
        context = type(command).context_class(command, info_name=path)
        out += [f"## `{path}`", "", (command.help or "").strip().split("\n\n")[0], ""]
        out += ["```", command.get_usage(context), "```", ""]
        rows = []
        for param in command.get_params(context):
            record = param.get_help_record(context)
            if record is not None:
                rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
        if rows:
            out += ["| option | meaning |", "|---|---|", *rows, ""]
    return "\n".join(out)


def http_reference() -> str:
    """Every route of the server's OpenAPI document: method, path, summary, body, answers."""
    from adaptrag.rag.settings import Settings
    from adaptrag.server.app import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        document = create_app(Settings(data_dir=Path(data_dir)), warm_up=False).openapi()
    out = [
        f"OpenAPI {document['openapi']}, {document['info']['title']} "
        f"{document['info']['version']}; the server serves it at `/openapi.json` and `/docs`.",
        "",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            out += [f"## `{method.upper()} {path}`", ""]
            text = operation.get("description") or operation.get("summary") or ""
            out += [" ".join(text.split()), ""]
            body = operation.get("requestBody", {}).get("content", {})
            for kind, content in body.items():
                ref = content.get("schema", {}).get("$ref", "")
                schema = f" `{ref.rsplit('/', 1)[-1]}`" if ref else ""
                out.append(f"- request: `{kind}`{schema}")
            codes = ", ".join(f"`{code}`" for code in operation.get("responses", {}))
            out += [f"- responses: {codes}", ""]
    return "\n".join(out)


GENERATORS = {"settings": settings_reference, "cli": cli_reference, "http": http_reference}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each reference marker by its generated text."""
    return MARKER.sub(lambda match: GENERATORS[match.group(1)](), markdown)
