"""What an evaluation run evaluates: shared by the runner, which records it, and the report."""

from __future__ import annotations

from dataclasses import dataclass

from adaptrag.rag.answering.query import Query
from adaptrag.rag.types import QARow


@dataclass(frozen=True)
class EvalConfig:
    """What a run evaluates; recorded in run.json and the report."""

    dataset: str
    dataset_sha256: str
    backend: str | None = None
    adapter: str | None = None
    domain: str | None = None
    top_k: int | None = None
    limit: int | None = None
    judge: bool = False
    scope: str | None = None  # "doc_id" / "domain": each row's search scoped by its own field
    retrieval_only: bool = False
    max_new_tokens: int | None = None

    @property
    def within_document(self) -> bool:
        """Whether each row's search is scoped to its own document."""
        return self.scope == "doc_id"

    def query(self, row: QARow) -> Query:
        """The pipeline query of one data set row under this run's settings."""
        return Query(
            row.question,
            domain=row.domain if self.scope == "domain" else self.domain,
            doc_id=row.doc_id if self.scope == "doc_id" else None,
            top_k=self.top_k,
            backend=self.backend,
            adapter=self.adapter,
            max_new_tokens=self.max_new_tokens,
        )
