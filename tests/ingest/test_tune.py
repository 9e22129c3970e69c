"""`adaptrag embeddings tune`: the embedding model tuned on a domain's questions, a new
collection version, and a blue/green switch decided on held-out hit@k."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest import ingest_paths
from adaptrag.ingest.tune import TuneOptions, find_pairs, tune_embeddings
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import collection_names, connection, store_for
from adaptrag.rag.types import QARow

CITIES = [
    "Aberdeen", "Bergen", "Cork", "Dundee", "Essen", "Florence", "Geneva", "Hull",
    "Izmir", "Jena", "Kiel", "Lyon", "Mainz", "Nantes", "Oslo", "Porto", "Quimper",
    "Riga", "Split", "Turku", "Ulm", "Vigo", "Wells", "York", "Zadar", "Arles",
    "Bonn", "Cadiz", "Delft", "Evora",
]  # fmt: skip


def write_depots(root: Path) -> tuple[Path, list[QARow]]:
    """Thirty one-paragraph documents and one question each, answered by its document."""
    root.mkdir()
    rows = []
    for n, city in enumerate(CITIES):
        hour = 5 + n % 7
        text = (
            f"The {city} depot opens at {hour} o'clock and takes deliveries of grade {n} "
            f"steel until noon; its manager signs every receipt."
        )
        (root / f"{city.lower()}.md").write_text(f"# {city} depot\n\n{text}\n")
        rows.append(
            QARow(
                id=str(n),
                question=f"When can steel be delivered to the depot in {city}?",
                answers=[f"{hour} o'clock"],
                domain="logistics",
                evidence=[text],
                doc_id=f"{city.lower()}.md",
            )
        )
    return root, rows


@pytest.fixture
def depots(
    tmp_path: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> tuple[Settings, list[QARow]]:
    folder, rows = write_depots(tmp_path / "depots")
    report = ingest_paths([folder], "logistics", settings=settings, embedder=embedder)
    assert report.ok and report.added == len(CITIES)
    return settings, rows


def test_each_question_is_paired_with_the_chunk_holding_its_evidence() -> None:
    chunks = [
        {"doc_id": "a", "chunk_id": "a0", "text": "Intro of A."},
        {"doc_id": "a", "chunk_id": "a1", "text": "The  NOTICE period is ninety days."},
        {"doc_id": "b", "chunk_id": "b0", "text": "The notice period is ninety days."},
    ]
    evidence = QARow("1", "notice?", ["ninety days"], None, ["the notice period is"], "a")
    answer_only = QARow("2", "notice?", ["ninety days"], None, [], None)
    nowhere = QARow("3", "rent?", ["ten pounds"], None, [], None)
    pairs = find_pairs([evidence, answer_only, nowhere], chunks, lambda c: c["text"])
    assert [sorted(p.positives) for p in pairs] == [["a1"], ["a1", "b0"]]


def test_a_promoted_version_serves_the_name_until_switched_back(
    depots: tuple[Settings, list[QARow]], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    settings, rows = depots
    report = tune_embeddings(
        rows,
        "logistics",
        settings=settings,
        options=TuneOptions(batch_size=8, learning_rate=5e-5, force=True),
    )
    assert report.promoted and report.forced and report.serving == "adaptrag-v2"
    assert report.rule.startswith("promoted when the paired 95% BCa bootstrap interval")
    assert Path(report.model, "config.json").is_file()
    assert collection_names(**connection(settings)) == ["adaptrag", "adaptrag-v2"]
    # Queries of the name go to the new version, embedded by the tuned model...
    with Pipeline(settings, embedder=embedder) as qa:
        sources = qa.retrieve("When can steel be delivered to the depot in Oslo?", top_k=1)
        assert qa.retriever.embedder.model_id == report.model
        assert qa.retriever.store.name == "adaptrag-v2"
    assert sources[0].doc_id == "oslo.md"
    # ...and so do ingests: a new document is embedded by the tuned model into v2.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "porto-annex.md").write_text("# Porto annex\n\nThe annex opens at dawn.\n")
    added = ingest_paths([extra], "logistics", settings=settings, embedder=embedder)
    assert added.added == 1 and added.collection == "adaptrag-v2"
    # The old version stays, as it was, until dropped.
    old = store_for(settings, follow=False)
    try:
        assert old.count() == len(CITIES)
        spec = old.spec()
        assert spec is not None and spec.embedding_model == embedder.model_id
    finally:
        old.close()
    # The version serving a name cannot be dropped; the list says who serves whom.
    runner = CliRunner()
    env = {"ADAPTRAG_DATA_DIR": str(settings.data_dir)}
    refused = runner.invoke(app, ["collections", "drop", "adaptrag-v2", "--yes"], env=env)
    assert refused.exit_code == 2
    assert "collection 'adaptrag-v2' serves 'adaptrag'; switch it first" in refused.output
    listed = runner.invoke(app, ["collections", "list"], env=env)
    assert "served by adaptrag-v2" in listed.output
    # Switching back is one command; queries then use the first version and the base model.
    result = runner.invoke(app, ["collections", "switch", "adaptrag", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": "adaptrag", "serving": "adaptrag"}
    with Pipeline(settings, embedder=embedder) as qa:
        qa.retrieve("Oslo depot", top_k=1)
        assert qa.retriever.embedder.model_id == embedder.model_id
        assert qa.retriever.store.name == "adaptrag"


def test_the_cli_reports_a_refusal_and_leaves_nothing_behind(
    depots: tuple[Settings, list[QARow]], tmp_path: Path
) -> None:
    settings, rows = depots
    data = tmp_path / "qa.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": r.id,
                    "domain": r.domain,
                    "question": r.question,
                    "answers": r.answers,
                    "evidence": r.evidence,
                    "doc_id": r.doc_id,
                }
            )
            + "\n"
            for r in rows
        )
    )
    env = {"ADAPTRAG_DATA_DIR": str(settings.data_dir)}
    args = ["embeddings", "tune", "--domain", "logistics", "--train", str(data)]
    few = CliRunner().invoke(app, [*args, "--holdout", "0.9"], env=env)
    assert few.exit_code == 2 and "holdout must be between 0.05 and 0.5" in few.output
    # With a learning rate of 0 the tuned model is the serving one: no gain, no promotion.
    result = CliRunner().invoke(app, [*args, "--lr", "0", "--scope", "doc_id"], env=env)
    assert result.exit_code == 0, result.output
    assert "(30 of 30 rows matched a chunk; 6 held out)" in result.output
    assert re.search(
        r"held-out hit@5: (\S+) -> \1 \(\+0\.000, 95% CI \[\+0\.000, \+0\.000\]\)", result.output
    )
    assert "not promoted: adaptrag stays on adaptrag" in result.output
    model = settings.data_dir / "embeddings" / "adaptrag-v2"
    # Nothing of a refused version stays.
    assert collection_names(**connection(settings)) == ["adaptrag"]
    assert not model.exists()
    assert store_for(settings, follow=False).serving() is None


def test_too_few_matching_rows_is_a_clear_error(depots: tuple[Settings, list[QARow]]) -> None:
    settings, rows = depots
    with pytest.raises(ConfigError, match=r"only 5 of 5 QA rows .* give at least 20"):
        tune_embeddings(rows[:5], "logistics", settings=settings)
