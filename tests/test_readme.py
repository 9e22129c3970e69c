"""The README's Python examples run as written, each in a fresh process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from adaptrag.ingest import ingest_paths
from adaptrag.rag.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]


def example(after: str) -> str:
    """The first Python block of the README after the text `after`."""
    section = (ROOT / "README.md").read_text().split(after, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no Python example after {after!r}"
    return match.group(1)


def run(code: str, cwd: Path, max_new_tokens: int) -> str:
    """Run `code` with the test's environment (and short answers); its stdout."""
    env = dict(os.environ, ADAPTRAG_MAX_NEW_TOKENS=str(max_new_tokens))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_quick_start_answers_with_sources(isolated_env: Path) -> None:
    code = example("## Quick start (Python)")
    assert len(code.strip().splitlines()) <= 10
    lines = run(code, ROOT, 16).splitlines()
    assert lines[0].strip()  # the answer
    assert any(line.startswith("[1] lease-orbit-quarry.md ") for line in lines), lines


def test_the_python_api_example_runs_as_written(isolated_env: Path, tmp_path: Path) -> None:
    code = example("## Python API")
    assert "qa.answer([" in code
    shutil.copytree(ROOT / "examples" / "sample" / "legal", tmp_path / "contracts")
    report = run(code, tmp_path, 8).splitlines()[0]
    assert report.split() == ["2", "0", "0", "0", "[]"]  # added, updated, unchanged, ...


def test_the_langchain_example_runs_as_written(
    isolated_env: Path, embedder: SentenceTransformerEmbedder
) -> None:
    code = example("**LangChain**")
    assert "StrOutputParser" in code
    ingest_paths([ROOT / "examples" / "sample" / "legal"], "legal", embedder=embedder)
    answer, documents = run(code, ROOT, 8).rsplit("\n", 2)[:2]
    assert answer.strip() and "northwind-lease.md" in documents


def test_the_chat_model_example_runs_as_written(
    isolated_env: Path, models_dir: Path, tmp_path: Path
) -> None:
    from helpers.adapters import random_adapter

    from adaptrag.adapters import add_adapter
    from adaptrag.rag.settings import load_settings

    code = example("**Chat model**")
    assert 'chat_model(qa, adapter="legal")' in code
    add_adapter(random_adapter(models_dir, tmp_path / "peft", 3), "legal", settings=load_settings())
    output = run(code, ROOT, 8)
    # the chain's answer, then the streamed one (a random adapter may write newlines)
    assert sum(1 for line in output.splitlines() if line.strip()) >= 2


def test_the_metric_table_is_the_reports_definitions() -> None:
    from adaptrag.eval.definitions import DEFINITIONS

    lines = (ROOT / "README.md").read_text().split("| metric | definition |\n|---|---|\n", 1)[1]
    table = {}
    for line in lines.splitlines():
        if not line.startswith("| `"):
            break
        name, definition = line[3:-2].split("` | ", 1)
        table[name] = definition
    assert table == DEFINITIONS
