"""The README's and the docs' Python examples run as written, each in a fresh process; the
README stays a short front page; the docs site builds in strict mode (no broken link)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from adaptrag.ingest import ingest_paths
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]


PYTHON_API = "docs/guides/python-api.md"


def example(after: str, page: str = "README.md") -> str:
    """The first Python block of `page` after the text `after`."""
    section = (ROOT / page).read_text().split(after, 1)[1]
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
    code = example("## Quick start")
    assert len(code.strip().splitlines()) <= 10
    lines = run(code, ROOT, 16).splitlines()
    assert lines[0].strip()  # the answer
    assert any(line.startswith("[1] lease-orbit-quarry.md ") for line in lines), lines


def test_the_python_api_example_runs_as_written(isolated_env: Path, tmp_path: Path) -> None:
    code = example("## Python API", PYTHON_API)
    assert "qa.answer([" in code
    shutil.copytree(ROOT / "examples" / "sample" / "legal", tmp_path / "contracts")
    report = run(code, tmp_path, 8).splitlines()[0]
    assert report.split() == ["2", "0", "0", "0", "[]"]  # added, updated, unchanged, ...


def test_the_langchain_example_runs_as_written(
    isolated_env: Path, embedder: SentenceTransformerEmbedder
) -> None:
    code = example("**LangChain**", PYTHON_API)
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

    code = example("**Chat model**", PYTHON_API)
    assert 'chat_model(qa, adapter="legal")' in code
    add_adapter(random_adapter(models_dir, tmp_path / "peft", 3), "legal", settings=load_settings())
    output = run(code, ROOT, 8)
    # the chain's answer, then the streamed one (a random adapter may write newlines)
    assert sum(1 for line in output.splitlines() if line.strip()) >= 2


def test_the_metric_table_is_the_reports_definitions() -> None:
    from adaptrag.eval.definitions import DEFINITIONS

    guide = (ROOT / "docs" / "guides" / "evaluation.md").read_text()
    lines = guide.split("| metric | definition |\n|---|---|\n", 1)[1]
    table = {}
    for line in lines.splitlines():
        if not line.startswith("| `"):
            break
        name, definition = line[3:-2].split("` | ", 1)
        table[name] = definition
    assert table == DEFINITIONS


def test_the_readme_is_a_short_front_page_linking_into_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 15_000
    for heading in ("## Install", "## Two commands", "## Quick start", "## Documentation"):
        assert heading in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link
    assert "shared/" not in readme


def test_no_page_refers_to_folders_outside_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    assert [str(p.relative_to(ROOT)) for p in pages if "shared/data" in p.read_text()] == []


def test_the_docs_site_builds_in_strict_mode(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    settings = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    from adaptrag.rag.settings import SECTION_OF

    assert [n for n in SECTION_OF if f"ADAPTRAG_{n.upper()}" not in settings] == []
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "adaptrag documents delete" in cli and "adaptrag eval compare" in cli
    http = (tmp_path / "site" / "reference" / "http" / "index.html").read_text()
    assert "/v1/chat/completions" in http and "/v1/documents/{doc_id}" in http
