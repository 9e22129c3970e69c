"""A run's HTML report (definitions, every row, rendered by Chromium) and its RAGAS export
(read back by RAGAS itself)."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.corpora import pipeline_over
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.eval.definitions import DEFINITIONS, LOWER_IS_BETTER
from adaptrag.eval.export import export_ragas
from adaptrag.eval.page import definition_html, rows_table
from adaptrag.eval.runner import RESULTS_FILE, read_results, run_eval
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

ROWS = [
    {
        "id": "n1",
        "domain": "legal",
        "question": "How many days notice does the tenant give?",
        "answers": ["ninety days"],
        "doc_id": "lease.md",
    },
    {
        "id": "n2",
        "domain": "legal",
        "question": "How long does confidentiality <b>last</b>?",  # escaped, not markup
        "answers": ["four years"],
    },
]


@pytest.fixture(scope="module")
def run_dir(
    indexed_corpus: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("evalrun")
    dataset = folder / "qa.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = folder / "run"
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=8) as qa:
        run_eval(dataset, out, settings=qa.settings, backend="local", pipeline=qa)
    yield out


def test_results_keep_the_source_text_the_model_was_given(run_dir: Path) -> None:
    first = read_results(run_dir)[0]
    assert first["sources"][0]["doc_id"] == "lease.md"
    assert "notice" in first["sources"][0]["text"].lower()


def test_the_html_report_defines_its_metrics_and_shows_every_row(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    report = json.loads((run_dir / "report.json").read_text())

    shown = [name for name in DEFINITIONS if report["summary"].get(name)]
    assert "f1" in shown and "refusal" in shown
    for name in shown:  # each metric in the table, with its whole definition
        assert f"<code>{name}</code>" in page and definition_html(DEFINITIONS[name]) in page
    # refusal is marked lower-is-better and kept out of the chart
    assert '<td class="lower"><code>refusal</code>' in page
    assert "are in the table only" in page
    # every row: question (escaped), gold answer, answer, and the sources' text
    assert "How long does confidentiality &lt;b&gt;last&lt;/b&gt;?" in page
    assert "<b>last</b>" not in page
    assert "ninety days" in page and "four years" in page
    for result in read_results(run_dir):
        assert _escaped(result["answer"]) in page
    assert page.count("<details>") >= 2  # folded source texts


def _escaped(text: str) -> str:
    return html.escape(text)


def test_a_lower_is_better_metric_is_never_charted_beside_the_others() -> None:
    # The set is what the chart leaves out; every other metric is a share, higher is better.
    assert {"refusal", "gold_dropped"} == LOWER_IS_BETTER
    assert set(DEFINITIONS) >= LOWER_IS_BETTER


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: `apt-get install chromium` (make test does it)")


def test_the_html_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = (run_dir / "report.html").as_uri()
    shot = tmp_path / "report.png"
    subprocess.run(
        [_chromium(), *flags, f"--screenshot={shot}", "--window-size=1400,2400", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout

    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1400, 2400)
    # Not a blank page: text, tables and the plot make many shades.
    assert len(image.getcolors(maxcolors=256) or []) > 20
    # What the browser built from the page: the tables, the images loaded beside it.
    assert dom.count("<tr>") >= len(ROWS) + 5
    assert 'src="metrics.png"' in dom
    assert (run_dir / "metrics.png").is_file()


def test_a_run_exports_to_ragas_and_ragas_reads_it(run_dir: Path, tmp_path: Path) -> None:
    from ragas import EvaluationDataset
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics.collections import ExactMatch

    done = export_ragas(run_dir, tmp_path / "ragas.jsonl")
    assert (done.rows, done.skipped_errors, done.skipped_unanswered) == (2, 0, 0)

    dataset = EvaluationDataset.from_jsonl(str(done.path))
    results = read_results(run_dir)
    assert len(dataset) == 2
    for sample, result in zip(dataset.samples, results, strict=True):
        assert isinstance(sample, SingleTurnSample)
        assert sample.user_input == result["question"]
        assert sample.response == result["answer"]
        assert sample.reference == result["answers"][0]
        assert (
            sample.retrieved_contexts
            and sample.retrieved_contexts[0] == result["sources"][0]["text"]
        )
        # a RAGAS metric (no LLM) scores the exported sample
        assert sample.reference is not None and sample.response is not None
        score = ExactMatch().score(reference=sample.reference, response=sample.response)
        assert score.value == float(sample.response == sample.reference)


def test_export_leaves_out_failed_rows_and_says_so(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with (copy / RESULTS_FILE).open("a") as sink:
        sink.write(json.dumps({**ROWS[0], "id": "n3", "error": "BackendError: down"}) + "\n")

    result = CliRunner().invoke(app, ["eval", "export", str(copy), "--format", "ragas"])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"wrote 2 RAGAS samples to {copy / 'ragas.jsonl'}; left out: 1 failed"
    )
    assert len((copy / "ragas.jsonl").read_text().splitlines()) == 2


def test_export_of_a_run_without_source_text_is_a_one_line_error(
    run_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "old"
    copy.mkdir()
    old: list[dict[str, Any]] = []
    for line in read_results(run_dir):
        sources = [{k: v for k, v in s.items() if k != "text"} for s in line["sources"]]
        old.append({**line, "sources": sources})
    (copy / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in old))

    with pytest.raises(ConfigError, match="re-run `adaptrag eval run`"):
        export_ragas(copy)
    result = CliRunner().invoke(app, ["eval", "export", str(copy), "--format", "csv"])
    assert result.exit_code != 0 and "unknown export format 'csv'; use ragas" in result.output


def test_the_page_of_an_old_run_shows_source_ids_without_text(run_dir: Path) -> None:
    result = {**read_results(run_dir)[0]}
    result["sources"] = [{k: v for k, v in s.items() if k != "text"} for s in result["sources"]]
    table = rows_table([result])
    assert "lease.md" in table and "<details>" not in table
