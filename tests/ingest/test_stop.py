"""Stopping `adaptrag ingest` (issue 31): SIGTERM (`docker stop`) or Ctrl-C while it works
stores what it embedded, says where it stopped in one line and exits 130; the collection
stays readable. Runs the real CLI over the 3 MB CUAD corpus (minutes of embedding on 2
cores), signalled once its first progress line shows it is storing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CUAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "cuad_dev_corpus.jsonl"


def adaptrag(data_dir: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "ADAPTRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "adaptrag", *args],
        text=True,
        env=env,
        **popen,  # type: ignore[call-overload]
    )


@pytest.mark.skipif(not CUAD.exists(), reason="needs ../shared/data/cuad_dev_corpus.jsonl")
def test_sigterm_stops_an_ingest_with_one_line_and_keeps_what_it_stored(tmp_path: Path) -> None:
    run = adaptrag(
        tmp_path / "data",
        "ingest",
        str(CUAD),
        "--domain",
        "legal",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert run.stderr is not None
    progress = ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # a line every 10 s without a terminal
        line = run.stderr.readline()
        assert line, f"ingest ended before its first progress line (exit {run.wait()})"
        if line.startswith("ingesting: ") and " 0 stored" not in line:
            progress = line
            break
    assert progress, "no progress line with stored chunks within 300 s"
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 130, (run.returncode, err)
    assert out == ""  # no report: the run did not end
    last = [line for line in err.splitlines() if not line.startswith("ingesting: ")]
    assert len(last) == 1, err
    assert re.fullmatch(
        r"error: ingest cancelled after 1/1 files parsed, \d+ chunks embedded, (\d+) stored "
        r"\(\d+ s\); what was stored stays searchable and nothing was deleted: run the same "
        r"ingest again to finish \(stored documents are not embedded again\)",
        last[0],
    ), last[0]
    stored = int(re.search(r"(\d+) stored", last[0])[1])  # type: ignore[index]

    info = adaptrag(
        tmp_path / "data", "collections", "info", "adaptrag", "--json", stdout=subprocess.PIPE
    )
    shown, _ = info.communicate(timeout=120)
    assert info.returncode == 0
    assert json.loads(shown)["domains"]["legal"]["chunks"] == stored > 0
