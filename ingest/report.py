"""The result of an ingest run, as a dataclass and as the CLI's JSON object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileIssue:
    """A file that was skipped (nothing to ingest) or failed (unreadable), and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """Counts of documents (`added` ... `deleted`) and chunks, with skipped and failed files.

    `plan` lists `{"doc_id", "action"}` for every document a dry run looked at; `replaced`
    lists `{"doc_id", "previous_source", "source"}` for every document whose stored version
    came from another file, now gone (a moved file, an earlier upload), that this run replaced.
    `context` (with generated chunk context) says how many contexts were generated and
    found cached, the tokens they took and their estimated cost.
    """

    collection: str
    domain: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: list[FileIssue] = field(default_factory=list)
    failed: list[FileIssue] = field(default_factory=list)
    replaced: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    plan: list[dict[str, str]] = field(default_factory=list)
    context: dict[str, Any] | None = None  # generated chunk contexts: counts, tokens, cost

    @property
    def ok(self) -> bool:
        """No file failed."""
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """The JSON object `adaptrag ingest --json` prints."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        if not self.dry_run:
            del data["plan"]
        return data
