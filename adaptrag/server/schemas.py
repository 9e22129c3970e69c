"""The request bodies of the HTTP API (pydantic): every field documented, extra keys refused."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from adaptrag.rag.answering.query import Filters, Query
from adaptrag.rag.generators.registry import backend_names


class _Body(BaseModel):
    # strict: JSON types as declared ("3" and true are not numbers); no unknown keys.
    model_config = ConfigDict(extra="forbid", strict=True)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _no_control_characters(text: str) -> str:
    if match := _CONTROL.search(text):
        raise ValueError(
            f"holds the control character {match.group()!r}; send plain text (tabs and "
            "newlines are fine)"
        )
    if _SURROGATE.search(text):
        raise ValueError(
            "holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not "
            "Unicode text; send the character itself or its pair"
        )
    return text


Text = Annotated[str, AfterValidator(_no_control_characters)]


class Turn(_Body):
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"] = Field(description="Who spoke.")
    content: Text = Field(max_length=20_000, description="What was said.")


class RetrieveRequest(_Body):
    """What to search for, and where."""

    question: Text = Field(min_length=1, description="The question (or search text).")
    domain: str | None = Field(None, description="Only this domain's chunks.")
    top_k: int | None = Field(None, ge=1, description="Chunks to return.")
    filters: Filters | None = Field(None, description="Payload key = value (or any of a list).")
    doc_id: str | None = Field(None, description="Only this document's chunks.")
    mode: Literal["hybrid", "dense", "sparse"] | None = Field(None, description="Search mode.")
    history: list[Turn] | None = Field(
        None,
        max_length=100,
        description="Earlier turns of a conversation, oldest first: a follow-up question is "
        "searched with the words of the last user turns it refers back to.",
    )

    def to_query(self, domain: str | None, filters: Filters | None) -> Query:
        """The request as the pipeline's `Query`, with the key's domain rules applied."""
        fields = self.model_dump(
            exclude={"question", "domain", "filters", "history"}, exclude_none=True
        )
        history = tuple((t.role, t.content) for t in self.history or ())
        return Query.of(
            self.question, {**fields, "domain": domain, "filters": filters, "history": history}
        )


class AskRequest(RetrieveRequest):
    """A question and how to answer it."""

    backend: str | None = Field(
        None,
        description="Who answers: auto, local, claude, openai, or a backend an installed "
        "package adds (GET /v1/models lists the configured ones).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and value not in backend_names():
            raise ValueError(f"unknown backend {value!r}; use one of {', '.join(backend_names())}")
        return value

    adapter: str | None = Field(None, description="Force an adapter (name, name/vN or 'base').")
    max_new_tokens: int | None = Field(None, ge=1, le=4096, description="Longest answer.")


class IngestPathsRequest(_Body):
    """Files or folders under the server's ingest root."""

    paths: list[str] = Field(min_length=1, description="Paths relative to ADAPTRAG_INGEST_ROOT.")
    domain: str = Field(min_length=1, description="The documents' domain.")
    sync: bool = Field(False, description="Delete documents of these roots no longer present.")
    id_prefix: str = Field(
        "",
        max_length=200,
        description="Put PREFIX/ before every document id (keeps same-named files apart).",
    )
