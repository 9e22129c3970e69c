"""The container image as operators get it: built by a real Docker engine from the
Dockerfile, then run: the CLI ingests into the embedded store, the server answers /v1/ask.

No registry image can be pulled on our machines, so the base is made from Debian's packages
(docker/debian-base.sh) and the Python packages come from a folder of wheels that this
machine's pip downloads, served on 127.0.0.1 to a build with --network host. Slow (minutes):
`make test-packaging` runs it, and CI runs that target after docker/start-engine.sh.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from helpers.packaging import (
    ROOT,
    TORCH,
    build_distributions,
    download_wheels,
    run,
    served_folder,
)

from adaptrag import __version__
from adaptrag.rag.generators.packaged import REQUIREMENT

pytestmark = pytest.mark.slow

BASE = "adaptrag-base:bookworm"
KEY = "image-test-key-0123456789"  # keys are at least 16 characters


def docker(*args: str, timeout_s: float = 900) -> str:
    return run(["docker", *args], cwd=ROOT, timeout_s=timeout_s).stdout


@pytest.fixture(scope="module")
def engine() -> None:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True).returncode
    ):
        pytest.fail("no Docker engine: run docker/start-engine.sh (as root) first")


@pytest.fixture(scope="module")
def image(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run([ROOT / "docker/debian-base.sh", BASE], cwd=ROOT, timeout_s=900)
    python = "import platform; print(platform.python_version())"
    version = docker("run", "--rm", "--network", "none", BASE, "python3", "-c", python).strip()
    wheel, _ = build_distributions(tmp_path_factory.mktemp("dist"))
    # Kept between runs (build/ is git-ignored); pip downloads only what is missing.
    wheels = ROOT / "build" / f"wheelhouse-{version}"
    wheels.mkdir(parents=True, exist_ok=True)
    # Our own wheel is never reused: pip takes a file of the same name already in the folder
    # over the one named, and would resolve this checkout's dependencies from a stale one.
    for stale in wheels.glob("adaptrag-*.whl"):
        stale.unlink()
    needed = [TORCH, f"{wheel}[server]", "setuptools>=77", "wheel"]
    download_wheels(wheels, *needed, python_version=version)
    download_wheels(wheels, REQUIREMENT, python_version=version, no_deps=True)
    tag = "adaptrag:test"  # kept after the run, to look into; the next build replaces it
    started = time.monotonic()
    # One URL from run to run: a build argument is part of Docker's layer cache key.
    with served_folder(wheels, port=18808) as url:
        docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE_IMAGE={BASE}",
            "--build-arg",
            f"WHEELS={url}",
            "-t",
            tag,
            ".",
            timeout_s=1800,
        )
    size_mb = int(docker("image", "inspect", "-f", "{{.Size}}", tag)) / 1e6
    print(f"image {tag}: built in {time.monotonic() - started:.0f} s, {size_mb:.0f} MB")
    yield tag
    subprocess.run(["docker", "image", "prune", "-f"], capture_output=True)  # replaced ones


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def volume(engine: None) -> Iterator[str]:
    name = f"adaptrag-test-{uuid.uuid4().hex[:8]}"
    docker("volume", "create", name)
    yield name
    subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)


def test_the_image_reports_its_version(image: str) -> None:
    assert docker("run", "--rm", "--network", "none", image, "--version") == (
        f"adaptrag {__version__}\n"
    )


def test_the_container_ingests_with_its_cli_and_answers_over_http(
    image: str, volume: str, unused_port: int
) -> None:
    corpus = ROOT / "examples" / "corpus" / "legal"
    data = f"{volume}:/var/lib/adaptrag"
    report = json.loads(
        docker(
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            data,
            "-v",
            f"{corpus}:/corpus:ro",
            image,
            "ingest",
            "/corpus",
            "--domain",
            "legal",
            "--json",
        )
    )
    assert report["added"] == len(list(corpus.iterdir())) and report["failed"] == []
    name = f"adaptrag-test-{uuid.uuid4().hex[:8]}"
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "-v",
        data,
        "-e",
        f"ADAPTRAG_API_KEYS={KEY}",
        image,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(unused_port),
    )
    base = f"http://127.0.0.1:{unused_port}"
    try:
        _wait_for(f"{base}/healthz", name)
        response = httpx.post(
            f"{base}/v1/ask",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"question": "How long is the notice period?", "domain": "legal"},
            timeout=300,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["text"].strip() and answer["backend"] == "local"
        assert answer["sources"]
        assert {s["metadata"]["domain"] for s in answer["sources"]} == {"legal"}
        assert httpx.get(f"{base}/openapi.json").json()["info"]["version"] == __version__
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_the_compose_file_passes_the_engine_tool_check() -> None:
    # The Qdrant server image cannot be pulled here; the wiring is tests/test_stack.py's.
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is not installed: docker/start-engine.sh installs it")
    done = run([tool, "-f", ROOT / "docker-compose.yml", "config", "-q"], cwd=ROOT)
    assert done.stderr.strip() == ""


def _wait_for(url: str, container: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        state = docker("inspect", "-f", "{{.State.Running}}", container).strip()
        assert state == "true", _logs(container)
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout_s} s:\n{_logs(container)}")


def _logs(container: str) -> str:
    done = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    return done.stdout + done.stderr
