"""A data set's `doc_id`s matched to the stored documents' ids, the way users write them.

Stored ids are paths relative to the ingested folder (`contracts/harbor-lease.md`) or
record ids. A data set written by hand names them as `harbor-lease`, `harbor-lease.md` or
`contracts/harbor-lease`. Each dataset id is matched, in order, to the stored id that is:
the same; the same without its extension; the same file name (with or without extension)
in some folder. An id that matches more than one stored id is left as it is (not guessed).

When no row's id matches, the evaluation would score retrieval 0.000 without a word: that
is refused with one line showing a dataset id and the nearest stored ids. When some rows'
ids match nothing, a warning says how many.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.types import QARow


@dataclass(frozen=True)
class Matched:
    """The rows with their ids matched, and what could not be."""

    rows: list[QARow]
    renamed: dict[str, str]  # dataset id -> stored id
    unmatched: list[str]  # dataset ids (distinct, in row order) that name no stored document
    unmatched_rows: int

    def warning(self, total_rows: int) -> str | None:
        """One line when some rows name no stored document, else None."""
        if not self.unmatched_rows:
            return None
        return (
            f"{self.unmatched_rows} of {total_rows} rows name a doc_id the collection does not "
            f"hold (e.g. {self.unmatched[0]!r}); their retrieval scores are 0"
        )


def _keys(stored_id: str) -> list[str]:
    """The ways a dataset may name `stored_id`, most exact first."""
    path = PurePosixPath(stored_id)
    without_suffix = str(path.with_suffix("")) if path.suffix else stored_id
    return [without_suffix, path.name, path.stem]


def match_doc_ids(rows: Sequence[QARow], stored: Collection[str]) -> Matched:
    """`rows` with each `doc_id` replaced by the stored id it names (see the module doc).

    Raises ConfigError when rows have doc_ids and none of them names a stored document.
    """
    wanted = list(dict.fromkeys(r.doc_id for r in rows if r.doc_id))
    if not wanted:
        return Matched(list(rows), {}, [], 0)
    stored_set = set(stored)
    by_key: dict[str, set[str]] = {}
    for stored_id in stored_set:
        for key in _keys(stored_id):
            by_key.setdefault(key, set()).add(stored_id)
    renamed: dict[str, str] = {}
    unmatched: list[str] = []
    for doc_id in wanted:
        if doc_id in stored_set:
            continue
        candidates = next(
            (by_key[key] for key in (doc_id, *_keys(doc_id)[1:]) if key in by_key), set()
        )
        if len(candidates) == 1:
            renamed[doc_id] = next(iter(candidates))
        else:
            unmatched.append(doc_id)
    if len(unmatched) == len(wanted):
        example = unmatched[0]
        near = difflib.get_close_matches(example, sorted(stored_set), n=3, cutoff=0.0)
        raise ConfigError(
            f"no doc_id of the data set names a stored document (e.g. {example!r}; stored "
            f"ids nearest to it: {', '.join(map(repr, near)) or 'none, the collection is empty'}"
            "): write the ids as stored (a file's path relative to the folder ingested, or "
            "the record id), or ingest the documents first"
        )
    missing = set(unmatched)
    return Matched(
        [replace(r, doc_id=renamed.get(r.doc_id, r.doc_id)) if r.doc_id else r for r in rows],
        renamed,
        unmatched,
        sum(1 for r in rows if r.doc_id in missing),
    )
