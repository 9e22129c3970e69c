"""The README's quick start runs as written, in a fresh process, from the repository root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ingest import ingest_paths
from rag.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start (Python)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_quick_start_answers_with_sources(isolated_env: Path) -> None:
    code = quick_start()
    assert len(code.strip().splitlines()) <= 10
    env = dict(os.environ, ADAPTRAG_MAX_NEW_TOKENS="16")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].strip()  # the answer
    assert any(line.startswith("[1] lease-orbit-quarry.md ") for line in lines), lines


def test_the_python_api_example_runs_as_written(isolated_env: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None and "qa.answer([" in match.group(1)
    shutil.copytree(ROOT / "examples" / "sample" / "legal", tmp_path / "contracts")
    env = dict(os.environ, ADAPTRAG_MAX_NEW_TOKENS="8")
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0].split() == ["2", "0", "0", "0", "[]"]  # the report


def test_the_langchain_example_runs_as_written(
    isolated_env: Path, embedder: SentenceTransformerEmbedder
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**LangChain**", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None and "StrOutputParser" in match.group(1)
    ingest_paths([ROOT / "examples" / "sample" / "legal"], "legal", embedder=embedder)
    env = dict(os.environ, ADAPTRAG_MAX_NEW_TOKENS="8")
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer, documents = result.stdout.rsplit("\n", 2)[:2]
    assert answer.strip() and "northwind-lease.md" in documents
