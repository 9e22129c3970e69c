"""`examples/demo.py --quick` end to end, twice: the second run reuses what the first made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_reuses_its_work(isolated_env: Path) -> None:
    def run() -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "demo.py"), "--quick"],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    first = run()
    for domain in ("legal", "finance", "medical"):
        assert f"{domain:<8} trained {domain}/v1" in first
        assert f"{domain:<8} f1" in first
    assert "Which law governs the Thistle-Pellham NDA?" in first  # the first legal test row
    assert "gold answer: Zurich" in first and "report.html" in first
    gates = [line for line in first.splitlines() if "gate: adapter F1" in line]
    assert len(gates) == 3 and all("] -> " in line for line in gates)  # the interval, a verdict
    second = run()
    assert "chunks_embedded=0" in second and "added=0" in second
    assert second.count("already trained on this data and recipe (reused)") == 3
    assert [line for line in second.splitlines() if "gate: adapter F1" in line] == gates
    assert (isolated_env / "demo-eval" / "legal-adapter" / "report.html").is_file()
