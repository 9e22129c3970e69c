"""`adaptrag adapters ...` and `ask --adapter` through the CLI runner."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.adapters import SAMPLE, random_adapter, write_qa
from helpers.fake_anthropic import FakeAnthropic
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.eval.datasets import read_qa
from adaptrag.ingest import ingest_paths
from adaptrag.rag.answering.normalize import normalize_answer
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder


@pytest.fixture
def legal(embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from adaptrag.rag.settings import Settings

    ingest_paths([SAMPLE], "legal", settings=Settings(), embedder=embedder)
    monkeypatch.setenv("ADAPTRAG_MAX_NEW_TOKENS", "8")
    return CliRunner()


def run(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_prints_both_scores_and_list_shows_the_adapter(
    legal: CliRunner, tmp_path: Path
) -> None:
    data = write_qa(tmp_path / "qa.jsonl")
    trained = run(
        legal,
        "adapters",
        "train",
        "--domain",
        "legal",
        "--data",
        str(data),
        "--max-steps",
        "1",
        "--batch-size",
        "1",
        "--eval-split",
        "0.4",
        "--force",
    )
    assert trained["promoted"] is True and trained["steps"] == 1
    assert set(trained["scores"]) == {"adapter", "base", "gate"}
    gate = trained["scores"]["gate"]
    assert trained["gate"].startswith("adapter F1") and f"on {gate['rows']} rows" in trained["gate"]
    human = legal.invoke(app, ["adapters", "list"]).stdout
    assert "legal/v1\tlegal\tactive" in human and "held-out adapter F1" in human
    assert ("-> passes" in human) == gate["passed"]

    (row,) = run(legal, "adapters", "list")
    assert row["name"] == "legal" and row["active"] is True and row["stale"] is False
    assert row["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert run(legal, "adapters", "show", "legal/v1")["ref"] == "legal/v1"


def test_add_activate_ask_with_adapter_and_delete(
    legal: CliRunner, tmp_path: Path, models_dir: Path
) -> None:
    path = random_adapter(models_dir, tmp_path / "peft", seed=5)
    added = run(legal, "adapters", "add", str(path), "--domain", "legal", "--name", "contracts")
    assert added["ref"] == "contracts/v1"
    assert run(legal, "adapters", "activate", "contracts")["domain"] == "legal"

    answer = run(legal, "ask", "How much notice ends the lease?", "-d", "legal", "-b", "local")
    assert answer["adapter"] == "contracts/v1"
    base = run(legal, "ask", "How much notice ends the lease?", "-d", "legal", "--adapter", "base")
    assert base["adapter"] is None

    assert run(legal, "adapters", "delete", "contracts/v1", "--yes") == {"deleted": "contracts/v1"}
    assert run(legal, "adapters", "list") == []


def test_adapter_commands_give_one_line_errors(legal: CliRunner, tmp_path: Path) -> None:
    for args, message in [
        (["adapters", "show", "nope"], "no adapter 'nope'"),
        (["adapters", "add", str(tmp_path), "--domain", "legal"], "not a PEFT adapter folder"),
        (["ask", "q", "--adapter", "nope"], "no adapter 'nope'"),
        (["adapters", "train", "--domain", "legal", "--data", "missing.jsonl"], "does not exist"),
    ]:
        result = legal.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and result.stderr.count("\n") == 1


def _question_about_the_passage(body: dict) -> str:
    passage = re.search(r"<passage[^>]*>\n(.*?)\n</passage>", body["messages"][0]["content"], re.S)
    words = passage.group(1).split() if passage else ["nothing"]
    return json.dumps({"question": "Which words open this passage?", "answer": " ".join(words[:3])})


def test_synth_writes_qa_rows_from_chunks_with_claude(
    legal: CliRunner, claude_env: FakeAnthropic, tmp_path: Path
) -> None:
    claude_env.reply = _question_about_the_passage
    out = tmp_path / "synth.jsonl"
    result = run(legal, "adapters", "synth", "--domain", "legal", "--n", "3", "--out", str(out))
    assert result == {"written": 3, "rejected": 0, "out": str(out), "backend": "claude"}
    rows = read_qa(out)
    assert len(rows) == 3 and all(r.domain == "legal" and r.evidence and r.doc_id for r in rows)
    assert all(normalize_answer(r.answers[0]) in normalize_answer(r.evidence[0]) for r in rows)
    assert claude_env.requests[0]["body"]["system"][0]["text"].startswith("You write one exam")


def test_synth_rejects_answers_that_are_not_in_the_chunk(
    legal: CliRunner, claude_env: FakeAnthropic, tmp_path: Path
) -> None:
    claude_env.reply = lambda body: '{"question": "Q?", "answer": "a made-up zebra"}'
    out = tmp_path / "synth.jsonl"
    result = run(legal, "adapters", "synth", "-d", "legal", "--n", "2", "--out", str(out))
    assert (result["written"], result["rejected"]) == (0, 2)
