"""Ingestion at the size and shape of real use: long contracts and hundreds of long files,
three full runs in a row each, with zero failures (the slow suite)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adaptrag.cli import app

CUAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "cuad_dev_corpus.jsonl"
WORDS = [
    "agreement",
    "party",
    "term",
    "notice",
    "licensee",
    "licensor",
    "payment",
    "royalty",
    "territory",
    "warranty",
    "indemnify",
    "confidential",
    "assignment",
    "termination",
    "effective",
    "date",
    "governing",
    "law",
    "exhibit",
    "schedule",
    "clause",
    "section",
    "obligation",
    "breach",
    "remedy",
    "renewal",
    "audit",
    "insurance",
    "liability",
]


def ingest_three_times(runner: CliRunner, path: Path) -> list[dict[str, Any]]:
    """Three complete ingests of `path`, each into a fresh domain (so each embeds it all)."""
    reports = []
    for run in range(3):
        result = runner.invoke(app, ["ingest", str(path), "--domain", f"stress{run}", "--json"])
        assert result.exit_code == 0, result.stderr
        reports.append(json.loads(result.stdout))
    return reports


@pytest.mark.slow
@pytest.mark.skipif(not CUAD.exists(), reason="shared data sets not present")
def test_fifty_long_contracts_ingest_three_times_without_a_failure() -> None:
    reports = ingest_three_times(CliRunner(), CUAD)
    for report in reports:
        assert report["failed"] == [] and report["added"] == 50
        assert report["chunks_embedded"] == reports[0]["chunks_embedded"] > 1000


@pytest.mark.slow
def test_a_folder_of_300_long_files_ingests_three_times_without_a_failure(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    folder = tmp_path / "many"
    for n in range(320):
        sub = folder / f"group{n % 8}"
        sub.mkdir(parents=True, exist_ok=True)
        # Lengths from a few lines to several chunks, so batches mix short and long texts.
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 220)))
            for _ in range(rng.randint(1, 12))
        ]
        (sub / f"doc{n:03d}.md").write_text(f"# Document {n}\n\n" + "\n\n".join(paragraphs))
    reports = ingest_three_times(CliRunner(), folder)
    for report in reports:
        assert report["failed"] == [] and report["added"] == 320
        assert report["chunks_embedded"] == reports[0]["chunks_embedded"]
