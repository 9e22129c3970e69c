"""The wheel as users get it: built from the checkout, installed (not editable) into a fresh
virtualenv the way the README says, and run from outside the checkout, offline.

Slow (a fresh environment takes a minute or two to install): `make test-packaging` runs it,
and CI runs that target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers.packaging import OFFLINE, ROOT, TORCH, build_distributions, run

from adaptrag import __version__

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_distributions(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, distributions: tuple[Path, Path]) -> Path:
    """A fresh virtualenv with the wheel installed as the README's Install section says."""
    where = tmp_path_factory.mktemp("user")
    run([sys.executable, "-m", "venv", where / "venv"], cwd=where)
    pip = where / "venv" / "bin" / "pip"
    run([pip, "install", "-q", TORCH], cwd=where)
    run([pip, "install", "-q", distributions[0]], cwd=where)
    run([where / "venv" / "bin" / "adaptrag", "models", "install"], cwd=where)
    return where / "venv"


def test_the_wheel_installs_one_adaptrag_namespace_and_its_metadata(
    distributions: tuple[Path, Path],
) -> None:
    wheel, sdist = distributions
    assert wheel.name == f"adaptrag-{__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"adaptrag", f"adaptrag-{__version__}.dist-info"}
    for module in (
        "rag/answering/pipeline.py",
        "ingest/job.py",
        "adapters/runtime.py",
        "eval/runner.py",
    ):
        assert f"adaptrag/{module}" in names
    assert "adaptrag/py.typed" in names
    assert f"adaptrag-{__version__}.dist-info/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"adaptrag-{__version__}.dist-info/METADATA").decode()
    assert f"Version: {__version__}" in metadata and "License-Expression: Apache-2.0" in metadata
    extras = {line.split(": ")[1] for line in metadata.splitlines() if "Provides-Extra" in line}
    assert {"server", "eval", "ray", "otel", "ragas", "dev"} <= extras
    with tarfile.open(sdist) as archive:
        members = {member.name.split("/", 1)[-1] for member in archive.getmembers()}
    assert {"LICENSE", "CHANGELOG.md", "adaptrag/rag/answering/pipeline.py"} <= members


def test_the_installed_command_ingests_and_answers_offline_outside_the_checkout(
    venv: Path, tmp_path: Path
) -> None:
    adaptrag = venv / "bin" / "adaptrag"
    env = {
        **OFFLINE,
        "ADAPTRAG_DATA_DIR": str(tmp_path / "data"),
        "ADAPTRAG_MODEL_CACHE_DIR": str(tmp_path / "models"),
    }
    assert run([adaptrag, "--version"], cwd=tmp_path).stdout == f"adaptrag {__version__}\n"
    found = run(
        [venv / "bin" / "python", "-c", _WHERE_AND_WHAT_IS_NOT_INSTALLED], cwd=tmp_path
    ).stdout
    where, missing = json.loads(found)
    assert where.startswith(str(venv)) and missing == ["rag", "ingest", "adapters", "eval"]
    # The core install has no server: one line says which extra to add.
    serve = subprocess.run([adaptrag, "serve"], cwd=tmp_path, capture_output=True, text=True)
    assert serve.returncode == 2 and serve.stderr.count("\n") == 1
    assert "pip install 'adaptrag[server]'" in serve.stderr
    report = json.loads(
        run(
            [adaptrag, "ingest", ROOT / "examples/corpus/legal", "--domain", "legal", "--json"],
            cwd=tmp_path,
            env=env,
        ).stdout
    )
    assert report["added"] >= 3 and report["failed"] == []
    answer = json.loads(
        run(
            [adaptrag, "ask", "How long is the notice period?", "--domain", "legal", "--json"],
            cwd=tmp_path,
            env=env,
        ).stdout
    )
    assert answer["text"].strip() and answer["backend"] == "local"
    assert answer["sources"] and all(s["metadata"]["domain"] == "legal" for s in answer["sources"])


def test_the_backends_pass_their_tests_on_the_sdks_a_fresh_install_resolves_to(
    venv: Path, tmp_path: Path
) -> None:
    # The dev extras hold openai below 2 (ragas' instructor pins it); a user's install takes
    # the newest releases. The Claude and openai tests run there, against the fake servers.
    pip = venv / "bin" / "pip"
    run([pip, "install", "-q", "pytest"], cwd=tmp_path)
    versions = run([pip, "list", "--format", "json"], cwd=tmp_path).stdout
    sdks = {p["name"]: p["version"] for p in json.loads(versions)}
    print("fresh install:", {name: sdks[name] for name in ("openai", "anthropic", "httpx")})
    tests = [ROOT / "tests/rag/test_openai.py", ROOT / "tests/rag/test_claude.py"]
    done = run(
        [venv / "bin" / "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=tmp_path,
        env={**OFFLINE, "ADAPTRAG_EXPECT_INSTALLED": str(venv)},
    )
    assert " passed" in done.stdout and "failed" not in done.stdout


_WHERE_AND_WHAT_IS_NOT_INSTALLED = """
import importlib.util, json, adaptrag
names = ["rag", "ingest", "adapters", "eval"]
print(json.dumps([adaptrag.__file__, [n for n in names if importlib.util.find_spec(n) is None]]))
"""
