"""`adaptrag config`: the effective settings, each with its documentation."""

from __future__ import annotations

import typer

from adaptrag.cli.base import (
    JsonOption,
    app,
    cli_settings,
    emit,
)
from adaptrag.rag.settings import SECTION_OF, Settings

# --- config ----------------------------------------------------------------------------


@app.command("config")
def show_config(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show the effective settings and what each one does (secrets masked)."""
    settings = cli_settings(ctx)
    rows = {
        name: {
            "value": "***" if "key" in name and value else value,
            "section": SECTION_OF[name],
            "env": f"ADAPTRAG_{name.upper()}",
            "help": Settings.field_help(name),
        }
        for name, value in settings.flat().items()
    }
    human = "\n".join(f"{row['env']}={row['value']}\n    {row['help']}" for row in rows.values())
    emit(rows, as_json, human)
