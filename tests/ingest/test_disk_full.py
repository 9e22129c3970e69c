"""A full disk under the embedded store: a one-line error with its own exit code, never a
SIGBUS, and the data intact (issue 31). Runs on a small tmpfs it mounts (needs root, as CI
and our machines run; skipped with the reason elsewhere)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptrag.rag.errors import DiskFullError
from adaptrag.rag.stores.base import StoredChunk
from adaptrag.rag.stores.edge import EdgeStore
from adaptrag.rag.stores.space import MB, free_bytes
from adaptrag.rag.types import SparseVector

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 160 MB tmpfs of its own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_mb: int) -> Path:
    """A file that leaves `leave_mb` MB free on `disk`."""
    filler = disk / "filler"
    size = free_bytes(disk) - leave_mb * MB
    with filler.open("wb") as out:
        out.truncate(0)
        block = b"\0" * MB
        for _ in range(size // MB):
            out.write(block)
    return filler


def adaptrag(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADAPTRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "adaptrag", *args], capture_output=True, text=True, env=env
    )


def test_a_full_disk_is_a_one_line_error_and_the_store_stays_intact(disk: Path) -> None:
    data = disk / "data"
    first = adaptrag(data, "ingest", str(CORPUS / "legal"), "--domain", "legal", "--json")
    assert first.returncode == 0, first.stderr
    filler = fill(disk, leave_mb=40)
    for args in (
        ("ingest", str(CORPUS / "finance"), "--domain", "finance"),
        ("collections", "info", "adaptrag"),  # Qdrant Edge writes its log when it opens
    ):
        refused = adaptrag(data, *args)
        assert refused.returncode == 4, (args, refused.returncode, refused.stderr)
        assert refused.stderr.count("\n") == 1
        assert re.match(
            r"error: no space left on \S+: (39|40|41) MB free, need about 64 MB", refused.stderr
        ), refused.stderr
    filler.unlink()
    info = adaptrag(data, "collections", "info", "adaptrag", "--json")
    assert info.returncode == 0 and '"legal": {"chunks": 44' in info.stdout
    again = adaptrag(data, "ingest", str(CORPUS / "finance"), "--domain", "finance")
    assert again.returncode == 0, again.stderr


def test_an_open_store_answers_reads_on_a_full_disk_and_closes_cleanly(disk: Path) -> None:
    data = disk / "data"
    assert adaptrag(data, "ingest", str(CORPUS / "legal"), "--domain", "legal").returncode == 0
    store = EdgeStore(data, "adaptrag")
    assert store.count() == 44
    fill(disk, leave_mb=0)
    assert free_bytes(disk) < MB
    assert store.count() == 44 and len(list(store.scroll(None, ["doc_id"]))) == 44
    point = StoredChunk(str(uuid.uuid4()), [0.0] * 384, SparseVector([1], [1.0]), {"text": "new"})
    with pytest.raises(DiskFullError, match=r"no space left on .*need about \d+ MB to store"):
        store.upsert([point])  # a write is refused before it starts (a server says 507)
    assert store.count() == 44
    store.close()  # the flush cannot write: logged, not raised (the log holds the data)
