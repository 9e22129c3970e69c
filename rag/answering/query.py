"""One question and everything that shapes its answer, as one frozen, typed value.

`Query` is built once, where a request enters (the CLI's options, the HTTP body, an eval
row), and travels unchanged through retrieval, routing and generation. Unset fields (None)
take the deployment's settings. `Pipeline.ask(question, domain=..., ...)` is the keyword
form of the same thing: its keywords are `QueryOptions`, checked by mypy, and a keyword
that is not a field is a one-line `ConfigError` at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.retrieval.conversation import search_text
from adaptrag.rag.retrieval.filters import Filters
from adaptrag.rag.retrieval.retriever import SearchOptions, build_where
from adaptrag.rag.stores.base import SearchMode, Where


class QueryOptions(TypedDict, total=False):
    """The keyword form of `Query` (every field but the question)."""

    domain: str | None
    doc_id: str | None
    filters: Filters | None
    top_k: int | None
    mode: SearchMode | None
    score_threshold: float | None
    mmr_diversity: float | None
    merge_adjacent: bool | None
    lead_chunk: bool | None
    backend: str | None
    adapter: str | None
    max_new_tokens: int | None
    history: Sequence[tuple[str, str]] | None


@dataclass(frozen=True)
class Query:
    """A question, where to search, how to search, and who answers it.

    - `domain`, `doc_id`, `filters`: which chunks may be retrieved (filtered in the store).
    - `top_k`, `mode`, `score_threshold`, `mmr_diversity`, `merge_adjacent`,
      `lead_chunk`: `SearchOptions`.
    - `backend` ("auto", "local", "claude", "openai"), `adapter` (`name`, `name/vN`, or "base" for
      the base model), `max_new_tokens`: generation.
    - `history`: earlier turns of a conversation, (role, text) with role "user" or
      "assistant", oldest first; a follow-up is searched with them (`rag.retrieval.conversation`).
    """

    question: str
    domain: str | None = None
    doc_id: str | None = None
    filters: Filters | None = None
    top_k: int | None = None
    mode: SearchMode | None = None
    score_threshold: float | None = None
    mmr_diversity: float | None = None
    merge_adjacent: bool | None = None
    lead_chunk: bool | None = None
    backend: str | None = None
    adapter: str | None = None
    max_new_tokens: int | None = None
    history: Sequence[tuple[str, str]] | None = None

    @classmethod
    def of(cls, question: str | Query, options: Mapping[str, Any]) -> Query:
        """`question` (text or a Query) with `options` set; an unknown option is an error."""
        unknown = set(options) - set(OPTION_NAMES)
        if unknown:
            raise ConfigError(
                f"unknown query option(s) {sorted(unknown)}; use {sorted(OPTION_NAMES)}"
            )
        if isinstance(question, Query):
            return replace(question, **options) if options else question
        if not isinstance(question, str):
            raise ConfigError(f"a question is text or a Query, not {type(question).__name__}")
        return cls(question, **options)

    def search_text(self) -> str:
        """What retrieval searches: the question, with the words of the conversation a
        follow-up leaves out (`rag.retrieval.conversation.search_text`)."""
        return search_text(self.question, self.history or ())

    def where(self) -> Where | None:
        """The store filter of this query's domain, document and payload conditions."""
        return build_where(self.domain, self.doc_id, self.filters)

    def search_options(self, defaults: SearchOptions) -> SearchOptions:
        """The deployment's search options with this query's choices, validated."""
        return defaults.override(**{name: getattr(self, name) for name in SEARCH_FIELDS})


OPTION_NAMES = tuple(f.name for f in fields(Query) if f.name != "question")
SEARCH_FIELDS = tuple(f.name for f in fields(SearchOptions))  # each a field of Query too
