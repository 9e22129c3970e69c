"""QA data sets in our JSON Lines format: reading them with clear errors, and their hash.

One object a line: `{"id", "domain", "question", "answers": [...], "evidence": [...]
(optional), "doc_id" (optional), "page" (optional)}`: the format of the public QA sets
adaptrag is measured on (docs: Evaluation).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.types import QARow, whole_number


def read_qa(path: str | Path, *, domain: str | None = None) -> list[QARow]:
    """Every row of a QA file (only `domain`'s when given); a bad line is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"QA file {path} does not exist; give a JSONL file of QA rows")
    rows: list[QARow] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            rows.append(_row(line, path, number))
    if not rows:
        raise ConfigError(f"QA file {path} holds no rows")
    if domain is not None:
        rows = [r for r in rows if r.domain in (None, domain)]
        if not rows:
            raise ConfigError(f"QA file {path} holds no rows of domain {domain!r}")
    return rows


def _row(line: str, path: Path, number: int) -> QARow:
    where = f"{path}:{number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not JSON ({exc.msg}); one object per line") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where} is not a JSON object")
    question = data.get("question")
    answers = data.get("answers")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(question, str) or not question.strip():
        raise ConfigError(f"{where} has no 'question' string")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise ConfigError(f"{where} needs 'answers': a non-empty list of strings")
    evidence = data.get("evidence") or []
    if isinstance(evidence, str):
        evidence = [evidence]
    doc_id = data.get("doc_id")
    page = data.get("page")
    if page is not None and (whole_number(page) is None or page < 1):
        raise ConfigError(f"{where} has 'page' {page!r}; a page is a number from 1")
    return QARow(
        id=str(data.get("id", f"{path.stem}-{number}")),
        question=question.strip(),
        answers=[a for a in answers if a.strip()] or answers,
        domain=data.get("domain"),
        evidence=[str(e) for e in evidence],
        doc_id=str(doc_id) if doc_id is not None else None,
        page=page,
    )


def file_hash(path: str | Path) -> str:
    """sha256 of a data file's bytes (recorded with adapters and evaluation runs)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
