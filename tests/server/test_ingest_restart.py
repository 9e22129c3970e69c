"""Ingest jobs survive a restart: a real `adaptrag serve` process killed with SIGKILL in the
middle of a job answers for it when started again (`interrupted`), and the job resumed
stores the rest without embedding again what it had stored.

The job is held in the middle by a file of a format that a test plugin loader reads only
once the test lets it (the `adaptrag.loaders` entry point), so "killed while running, with
part of it stored" holds however fast or busy the machine is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

KEY = "restart-admin-0123456789abcdef"
DOCS = 24


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _plugin(site: Path) -> None:
    """A loader of `.wait` files that returns only once `<file>.go` exists."""
    info = site / "wait_loader-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wait-loader\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[adaptrag.loaders]\n.wait = wait_loader:load\n")
    (site / "wait_loader.py").write_text(
        "import time\n"
        "from adaptrag.rag.types import Document\n\n"
        "def load(file, options):\n"
        "    while not file.path.with_suffix('.go').exists():\n"
        "        time.sleep(0.05)\n"
        "    return [Document(file.rel, 'Held clause: sixty days.', 'Held', str(file.path))]\n"
    )


class Process:
    """`adaptrag serve` in its own process, over one data dir."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "adaptrag", "serve", "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start: " + log.read_text()[-3000:])

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)
        self.log.close()


@pytest.fixture
def setup(tmp_path: Path, models_dir: Path) -> Iterator[tuple[dict[str, str], Path]]:
    site = tmp_path / "site"
    _plugin(site)
    root = tmp_path / "root" / "legal"
    root.mkdir(parents=True)
    for n in range(DOCS):
        (root / f"memo{n:02d}.md").write_text(
            f"# Memo {n}\n\nClause {n}: notice is {n + 10} days.\n"
        )
    (root / "zz-held.wait").write_text("held")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "ADAPTRAG_DATA_DIR": str(tmp_path / "data"),
        "ADAPTRAG_MODEL_CACHE_DIR": str(models_dir),
        "ADAPTRAG_INGEST_ROOT": str(tmp_path / "root"),
        "ADAPTRAG_API_KEYS": f"{KEY}:*:ingest",
        "ADAPTRAG_EMBEDDING_BATCH_SIZE": "1",  # four chunks per stored batch
        "HF_HUB_OFFLINE": "1",
    }
    yield env, root


def _poll(client: httpx.Client, job: str, until: Any, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/v1/ingest/{job}").json()
        if until(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job} never reached the state: {state}")


def test_a_job_killed_with_its_server_is_interrupted_then_resumed(
    setup: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, root = setup
    port = _free_port()
    first = Process(env, port, tmp_path / "server.log")
    try:
        with first.client() as client:
            started = client.post("/v1/ingest", json={"paths": ["legal"], "domain": "legal"})
            assert started.status_code == 202, started.text
            job = started.json()["job"]
            # Held by the .wait file: the memos before it are embedded and stored.
            _poll(
                client,
                job,
                lambda s: (
                    s["status"] == "running"
                    and (s["progress"].get("store") or {}).get("done", 0) >= 20
                ),
            )
    finally:
        first.stop(signal.SIGKILL)  # no shutdown, no cleanup
    stored_before = _stored(tmp_path)

    (root / "zz-held.go").write_text("go")
    second = Process(env, port, tmp_path / "server.log")
    try:
        with second.client() as client:
            interrupted = client.get(f"/v1/ingest/{job}").json()
            assert interrupted["status"] == "interrupted", interrupted
            assert "the server stopped while this job was running" in interrupted["error"]
            resumed = client.post(f"/v1/ingest/{job}/resume")
            assert resumed.status_code == 202 and resumed.json()["status"] == "queued"
            done = _poll(client, job, lambda s: s["status"] in ("done", "failed"))
            assert done["status"] == "done", done
            report = done["report"]
            assert report["unchanged"] == stored_before  # not embedded twice
            assert report["added"] == DOCS + 1 - stored_before
            again = client.post(f"/v1/ingest/{job}/resume")
            assert again.status_code == 409 and "not interrupted" in again.json()["error"]
            listed = client.get("/v1/documents", params={"domain": "legal"}).json()
            assert len(listed) == DOCS + 1
    finally:
        second.stop()


def _stored(tmp_path: Path) -> int:
    """Documents stored whole in the killed server's collection (read by this process)."""
    from adaptrag.ingest import list_documents
    from adaptrag.rag.settings import Settings

    infos = list_documents("legal", settings=Settings(data_dir=tmp_path / "data"))
    assert infos and all(i.complete for i in infos)
    return len(infos)
