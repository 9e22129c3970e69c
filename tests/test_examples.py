"""The demo corpus and its QA pairs: enough of each, several formats, and every answer right
(stated by its evidence sentence, which is in the document the row names)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from adaptrag.ingest.loaders import discover, load
from adaptrag.rag.answering.normalize import normalize_answer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOMAINS = ("legal", "finance", "medical")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_corpus_answers_every_question(domain: str) -> None:
    documents = {
        d.doc_id: flat(d.text) for f in discover([EXAMPLES / "corpus" / domain]) for d in load(f)
    }
    formats = Counter(Path(f.rel).suffix for f in discover([EXAMPLES / "corpus" / domain]))
    assert len(documents) >= 15 and len(formats) >= 3, formats
    rows = {
        split: [
            json.loads(x)
            for x in (EXAMPLES / "qa" / f"{domain}_{split}.jsonl").read_text().splitlines()
        ]
        for split in ("train", "test")
    }
    everything = rows["train"] + rows["test"]
    assert len(everything) >= 150 and len(rows["test"]) >= 25
    assert not {r["id"] for r in rows["train"]} & {r["id"] for r in rows["test"]}
    assert len({r["question"] for r in everything}) == len(everything)
    for row in everything:
        assert row["domain"] == domain and row["doc_id"] in documents, row
        (evidence,) = row["evidence"]
        assert evidence in documents[row["doc_id"]], row  # the loaded text states it
        assert normalize_answer(row["answers"][0]) in normalize_answer(evidence), row


def test_all_six_formats_are_in_the_corpus() -> None:
    suffixes = {p.suffix for p in (EXAMPLES / "corpus").rglob("*.*")}
    assert {".md", ".txt", ".html", ".pdf", ".docx", ".jsonl"} <= suffixes
