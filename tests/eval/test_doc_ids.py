"""Dataset doc_ids matched to stored ids as users write them (issue 26)."""

from __future__ import annotations

from adaptrag.eval.doc_ids import match_doc_ids
from adaptrag.rag.types import QARow

STORED = ["contracts/harbor-lease.md", "contracts/nda.txt", "archive/nda.txt", "r1"]


def _rows(*doc_ids: str) -> list[QARow]:
    return [QARow(f"q{n}", "q?", ["a"], doc_id=d) for n, d in enumerate(doc_ids)]


def test_ids_match_with_or_without_extension_folder_or_both() -> None:
    matched = match_doc_ids(
        _rows(
            "contracts/harbor-lease.md",
            "contracts/harbor-lease",
            "harbor-lease.md",
            "harbor-lease",
            "r1",
        ),
        STORED,
    )
    assert {r.doc_id for r in matched.rows} == {"contracts/harbor-lease.md", "r1"}
    assert matched.unmatched == [] and matched.warning(5) is None


def test_an_ambiguous_id_is_not_guessed() -> None:
    matched = match_doc_ids(_rows("nda", "harbor-lease"), STORED)  # two folders hold nda.txt
    assert [r.doc_id for r in matched.rows] == ["nda", "contracts/harbor-lease.md"]
    assert matched.unmatched == ["nda"] and matched.unmatched_rows == 1
