"""Evaluation runs through the real pipeline: results, resume, errors, reports, compare, gates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.corpora import pipeline_over
from helpers.fake_anthropic import FakeAnthropic
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.eval.compare import check_gates, compare_runs
from adaptrag.eval.judge import JUDGE_SYSTEM
from adaptrag.eval.runner import run_eval
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

ROWS = [
    {
        "id": "q1",
        "domain": "legal",
        "question": "How many days notice does the tenant give?",
        "answers": ["ninety days"],
        "doc_id": "lease.md",
    },
    {
        "id": "q2",
        "domain": "legal",
        "question": "How long does confidentiality last?",
        "answers": ["four years"],
        "evidence": ["Confidentiality lasts four years"],
    },
    {
        "id": "q3",
        "domain": "legal",
        "question": "When are refunds paid?",
        "answers": ["within 14 days"],
    },
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


@pytest.fixture(scope="module")
def qa(
    indexed_corpus: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Pipeline]:
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=8) as pipeline:
        yield pipeline


def test_a_run_writes_one_result_per_row_and_the_reports(
    qa: Pipeline, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    report = run_eval(dataset, out, settings=qa.settings, backend="local", pipeline=qa)

    lines = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["q1", "q2", "q3"]
    first = json.loads(lines[0])
    assert first["metrics"]["hit_at_k"] == 1.0 and first["sources"][0]["doc_id"] == "lease.md"
    assert json.loads(lines[2])["metrics"]["hit_at_k"] is None  # no gold for retrieval
    summary = report["summary"]
    assert summary["rows"] == 3 and summary["errors"] == 0
    assert summary["hit_at_k"]["n"] == 2 and summary["f1"]["n"] == 3
    assert -1.0 <= first["metrics"]["semantic_similarity"] <= 1.0
    assert summary["semantic_similarity"]["n"] == 3
    low, high = summary["f1"]["ci95"]
    assert low <= summary["f1"]["mean"] <= high
    stages = {"embed_ms", "search_ms", "rerank_ms", "generate_ms", "service_ms", "total_ms"}
    stages.add("load_ms")
    assert set(summary["latency_ms"]) == stages
    versions = report["versions"]
    assert versions["collection_fingerprint"] == qa.retriever.check().fingerprint()
    assert len(versions["dataset_sha256"]) == 64
    assert versions["models"] == {"HuggingFaceTB/SmolLM2-135M-Instruct": 3}
    assert json.loads((out / "report.json").read_text())["summary"]["rows"] == 3
    assert "| f1 |" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for plot in ("metrics.png", "latency.png", "domains.png"):
        assert plot in html and (out / plot).stat().st_size > 1000


def test_an_interrupted_run_resumes_where_it_stopped(
    qa: Pipeline, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run_eval(dataset, out, settings=qa.settings, backend="local", pipeline=qa)
    lines = (out / "results.jsonl").read_text().splitlines()
    # as if killed while writing the second row
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:20])

    report = run_eval(dataset, out, settings=qa.settings, backend="local", pipeline=qa)

    again = (out / "results.jsonl").read_text().splitlines()
    assert again[0] == lines[0]  # the finished row was not answered again
    assert [json.loads(line)["id"] for line in again] == ["q1", "q2", "q3"]
    assert report["summary"]["rows"] == 3


def test_a_failing_row_is_recorded_and_the_run_goes_on(qa: Pipeline, tmp_path: Path) -> None:
    dataset = tmp_path / "qa.jsonl"
    rows = [ROWS[0], {"id": "long", "question": "why " * 3000, "answers": ["x"]}]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = run_eval(dataset, tmp_path / "run", settings=qa.settings, backend="local", pipeline=qa)
    results = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert results[0]["error"] is None
    assert "ADAPTRAG_CONTEXT_TOKENS" in results[1]["error"]
    assert report["summary"]["errors"] == 1


def test_resuming_with_other_settings_is_refused(
    qa: Pipeline, dataset: Path, tmp_path: Path
) -> None:
    run_eval(dataset, tmp_path / "run", settings=qa.settings, backend="local", limit=1, pipeline=qa)
    with pytest.raises(ConfigError, match="another --out"):
        run_eval(dataset, tmp_path / "run", settings=qa.settings, backend="local", pipeline=qa)


def test_compare_pairs_rows_and_the_gate_fails_below_threshold(
    qa: Pipeline, dataset: Path, tmp_path: Path, claude_env: FakeAnthropic
) -> None:
    run_eval(dataset, tmp_path / "local", settings=qa.settings, backend="local", pipeline=qa)

    def reply(body: dict[str, Any]) -> str:
        if body["system"][0]["text"] == JUDGE_SYSTEM:  # grading: only the tenant answer is right
            user = body["messages"][0]["content"]
            if "When are refunds paid?" in user:  # a verdict of the wrong type: unusable
                return json.dumps({"correct": "no", "faithful": True, "reason": "typed wrong"})
            right = "Ninety days" in user.split("Answer to grade:")[1]
            return json.dumps({"correct": right, "faithful": True, "reason": "checked"})
        question = body["messages"][0]["content"].rpartition("Question:")[2]
        return "Ninety days [1]." if "tenant" in question else "I don't know."

    claude_env.reply = reply
    report = run_eval(
        dataset,
        tmp_path / "claude",
        settings=qa.settings,
        backend="claude",
        judge=True,
        pipeline=qa,
    )
    summary = report["summary"]
    # The refunds row's verdict was unusable: not a grade, but counted and shown.
    assert summary["judge_correct"]["mean"] == pytest.approx(1 / 2)
    assert summary["judge_correct"]["n"] == 2
    assert summary["judge_faithful"]["mean"] == 1.0 and summary["judge_cost_usd"] > 0
    assert summary["judge_coverage"] == {
        "asked": 3,
        "graded": 2,
        "unparseable": 1,
        "failed": 0,
        "coverage": pytest.approx(2 / 3),
    }
    line = "judge graded 2 of 3 answers (1 unparseable, 0 failed; judge cost $"
    assert line in (tmp_path / "claude" / "report.md").read_text()
    assert line in (tmp_path / "claude" / "report.html").read_text()
    assert report["versions"]["judge"] == {
        "model": "claude-sonnet-5-5",
        "prompt_version": "judge-v2",
    }

    comparison = compare_runs([tmp_path / "local", tmp_path / "claude"], tmp_path / "cmp")

    f1 = comparison["metrics"]["f1"]
    assert comparison["rows"] == 3 and f1["n"] == 3
    difference = f1["difference_vs_first"][str(tmp_path / "claude")]
    assert difference["ci95"][0] <= difference["mean"] <= difference["ci95"][1]
    assert comparison["disagreements"][0]["id"] in {"q1", "q2", "q3"}
    assert (tmp_path / "cmp" / "compare.md").read_text().startswith("# Comparison on 3")
    # The backend is what this comparison is about, and the one setting that differs.
    assert [w.split(" (")[0] for w in comparison["warnings"]] == ["the runs differ in backend"]
    assert "> warning: the runs differ in backend" in (tmp_path / "cmp" / "compare.md").read_text()
    assert check_gates({"f1": 0.4}, ["f1=0.5"]) == ["f1 0.4000 < 0.5"]
    assert check_gates({"f1": 0.6}, ["f1=0.5"]) == []
    with pytest.raises(ConfigError, match="unknown metric"):
        check_gates({"f1": 0.6}, ["bleu=0.5"])


def test_eval_cli_runs_reports_and_gates(
    corpus: Path,
    embedder: SentenceTransformerEmbedder,
    dataset: Path,
    tmp_path: Path,
) -> None:
    ingest_paths([corpus], "legal", settings=Settings(), embedder=embedder)
    runner = CliRunner()
    out = tmp_path / "run"
    command = ["eval", "run", "--dataset", str(dataset), "--out", str(out), "-b", "local"]
    result = runner.invoke(app, [*command, "--max-new-tokens", "8", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["rows"] == 3
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(0 < row["usage"]["output_tokens"] <= 8 for row in rows)
    gated = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--dataset",
            str(dataset),
            "--out",
            str(out),
            "-b",
            "local",
            "--max-new-tokens",
            "8",  # the same settings: a run resumed with other ones is refused
            "--fail-under",
            "hit_at_k=1.01",
        ],
    )
    assert gated.exit_code == 1 and "gate failed: hit_at_k" in gated.stderr
    compared = runner.invoke(app, ["eval", "compare", str(out), str(out), "--fail-under", "f1=-1"])
    assert compared.exit_code == 0 and "| f1 |" in compared.stdout


def test_the_judge_needs_a_key_and_nothing_is_written_without_one(
    dataset: Path, tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        run_eval(dataset, tmp_path / "run", settings=settings, judge=True)
    assert not (tmp_path / "run").exists()


SCOPED_ROWS = [
    {
        "id": "s1",
        "domain": "legal",
        "question": "How much notice does the tenant give?",
        "answers": ["ninety days"],
        "evidence": ["The tenant gives ninety days notice to terminate."],
        "doc_id": "lease.md",
    },
    {
        "id": "s2",
        "domain": "legal",
        "question": "When is the rent due?",
        "answers": ["the first day of each month"],
        "evidence": ["Rent of 8,000 euros is due on the first day of each month."],
        "doc_id": "lease.md",
    },
]


def test_a_retrieval_only_run_scopes_each_row_to_its_document(
    qa: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "scoped.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in SCOPED_ROWS))
    out = tmp_path / "run"
    report = run_eval(
        dataset, out, settings=qa.settings, pipeline=qa, scope="doc_id", retrieval_only=True
    )
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for result in results:
        assert "answer" not in result and result["timings"]["generate_ms"] == 0.0
        assert {s["doc_id"] for s in result["sources"]} == {"lease.md"}  # scoped to its doc
        # Within one document, relevance is the evidence, not the document: hits are earned.
        assert result["metrics"]["hit_at_k"] == 1.0 and 0 < result["metrics"]["mrr"] <= 1
    assert report["summary"]["hit_at_k"]["mean"] == 1.0 and "f1" not in report["summary"]
    assert json.loads((out / "run.json").read_text())["scope"] == "doc_id"
    assert "evaluating: 2/2 rows" in capsys.readouterr().err  # no TTY: progress lines
    with pytest.raises(ConfigError, match="unknown scope 'page'"):
        run_eval(dataset, tmp_path / "x", settings=qa.settings, pipeline=qa, scope="page")
    narrow = tmp_path / "narrow"
    run_eval(dataset, narrow, settings=qa.settings, pipeline=qa, top_k=1, retrieval_only=True)
    comparison = compare_runs([out, narrow])
    warnings = [w.split(" (")[0] for w in comparison["warnings"]]
    assert warnings == ["the runs differ in top_k", "the runs differ in scope"]
    assert comparison["disagreements"] == [] and "hit_at_k" in comparison["metrics"]


def test_retrieval_is_scored_on_what_was_retrieved_and_prompt_drops_apart() -> None:
    from adaptrag.eval.runner import row_metrics
    from adaptrag.rag.types import Answer, QARow, Source

    row = QARow("r", "q", ["ninety days"], doc_id="lease.md")
    other = Source("nda.txt", "c1", "Confidentiality lasts four years.", 0.9)
    gold = Source("lease.md", "c2", "The tenant gives ninety days notice.", 0.5)
    answer = Answer("I don't know.", [other], [], "local", "m", dropped=[gold])
    scores = row_metrics(row, answer, 5)
    assert scores["hit_at_k"] == 1.0 and scores["mrr"] == 0.5  # retrieval found it 2nd
    assert scores["gold_dropped"] == 1.0  # but the prompt budget left it out
    assert (scores["value_correct"], scores["value_in_sources"]) == (0.0, 0.0)  # dropped
    kept = row_metrics(row, Answer("x", [gold], [], "local", "m"), 5)
    assert kept["gold_dropped"] == 0.0
    assert (kept["value_correct"], kept["value_in_sources"], kept["label_correct"]) == (
        0.0,
        1.0,
        None,
    )


def _write(path: Path, doc_ids: list[str]) -> Path:
    rows = [
        {"id": f"r{n}", "question": "How many days notice does the tenant give?", "doc_id": d}
        | {"answers": ["ninety days"], "domain": "legal"}
        for n, d in enumerate(doc_ids)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_doc_ids_written_the_natural_way_are_matched_to_the_stored_ones(
    qa: Pipeline, tmp_path: Path
) -> None:
    # The store holds "lease.md"; a user writes "lease" (and "./"-less paths).
    dataset = _write(tmp_path / "natural.jsonl", ["lease", "lease.md"])
    report = run_eval(
        dataset,
        tmp_path / "run",
        settings=qa.settings,
        pipeline=qa,
        retrieval_only=True,
        show_progress=False,
    )
    assert report["summary"]["hit_at_k"]["mean"] == 1.0


def test_doc_ids_that_name_nothing_stored_are_refused_or_warned_about(
    qa: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    none_match = _write(tmp_path / "wrong.jsonl", ["harbor-lease", "harbor-nda"])
    with pytest.raises(
        ConfigError,
        match=r"no doc_id of the data set names a stored document "
        r"\(e\.g\. 'harbor-lease'; stored ids nearest to it: '",
    ):
        run_eval(
            none_match,
            tmp_path / "a",
            settings=qa.settings,
            pipeline=qa,
            retrieval_only=True,
            show_progress=False,
        )
    some = _write(tmp_path / "some.jsonl", ["lease", "harbor-nda"])
    report = run_eval(
        some,
        tmp_path / "b",
        settings=qa.settings,
        pipeline=qa,
        retrieval_only=True,
        show_progress=False,
    )
    assert (
        "warning: 1 of 2 rows name a doc_id the collection does not hold (e.g. "
        "'harbor-nda'); their retrieval scores are 0" in capsys.readouterr().err
    )
    assert report["summary"]["hit_at_k"]["mean"] == 0.5
