"""The response bodies of the HTTP API (pydantic), so the OpenAPI document types every
route and generated clients get classes, not bare dicts.

Each model refuses keys it does not declare (`extra="forbid"`): a field added to an answer
without its schema fails the tests that check real responses against this document,
instead of vanishing from the API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceOut(_Out):
    """A retrieved chunk: its document, its text and its score."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    page: int | None = Field(description="The page it starts on (PDF), None where unpaged.")
    pages: list[int] = Field(
        description="Every page it spans: one for a chunk, several for consecutive chunks "
        "merged at retrieval; empty where unpaged."
    )
    label: str = Field(
        description="How a citation names it: the document and its page(s) or section "
        "(`annual-report.pdf p. 47`, `report.pdf pp. 46-47`)."
    )
    metadata: dict[str, Any] = Field(description="The stored payload (domain, title...).")


class BoxOut(_Out):
    """Where a piece of text stands on its page (PDF): corners in thousandths of the
    page's width and height from its top left corner."""

    page: int
    x0: int
    y0: int
    x1: int
    y1: int


class CitationOut(_Out):
    """One `[n]` marker of the answer and the source it points at (None: nowhere)."""

    marker: int
    chunk_id: str | None
    doc_id: str | None
    page: int | None = Field(
        description="The page of the source that holds the words the marker vouches for "
        "(a merged source spans several)."
    )
    boxes: list[BoxOut] = Field(
        description="Where those words stand on that page (PDF), to highlight them; empty "
        "where the format keeps no positions or the words were not found."
    )
    valid: bool


class UsageOut(_Out):
    """Tokens used, and the estimated cost (Claude)."""

    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_usd: float


class CheckedValueOut(_Out):
    """A value the answer states and the sources (numbered 1..) that hold it."""

    text: str
    kind: str = Field(description="number, amount, percent, duration, date or quote")
    sources: list[int]
    cited: bool
    pages: list[int | None] = Field(
        description="For each source in `sources`, the page where it holds the value."
    )
    supported: bool


class GroundingOut(_Out):
    """Which of the answer's values its sources hold, and what was done about the rest."""

    supported: bool | None = Field(description="None when the answer states no value.")
    values: list[CheckedValueOut]
    unsupported: list[str]
    action: Literal["kept", "quoted", "refused"]
    model_text: str | None = Field(description="The model's words when they were replaced.")


class AnswerOut(_Out):
    """An answer with its sources, citations, grounding, route, usage and timings."""

    text: str
    sources: list[SourceOut]
    citations: list[CitationOut]
    backend: str
    model: str
    adapter: str | None
    route: str
    usage: UsageOut
    timings: dict[str, float] = Field(description="Milliseconds per stage, and load_ms.")
    dropped: list[SourceOut] = Field(description="Retrieved chunks the prompt had no room for.")
    grounding: GroundingOut | None
    invalid_citations: list[int]


class RetrieveOut(_Out):
    """The best chunks for a question."""

    sources: list[SourceOut]


class IngestAccepted(_Out):
    """An ingest job was queued; poll its status URL."""

    job: str
    status_url: str


class JobOut(_Out):
    """An ingest job: status, progress per stage, and the report when it ended."""

    id: str
    domain: str
    status: Literal[
        "queued", "running", "cancelling", "done", "failed", "cancelled", "interrupted"
    ] = Field(description="interrupted: the server stopped during the job; resume it.")
    progress: dict[str, dict[str, int | None]] = Field(
        description="parse/embed/store: done, total (None until known)."
    )
    report: dict[str, Any] | None
    error: str | None
    created_at: str
    finished_at: str | None


class DocumentOut(_Out):
    """A stored document: where it came from and what it became."""

    doc_id: str
    domain: str
    title: str
    source: str = Field(
        description="The file's path relative to the folder it was ingested from (the "
        "server's folders are never shown)."
    )
    source_root: str = Field(
        description="That folder: its path under the ingest root, `upload`, or its name."
    )
    format: str
    chunks: int
    characters: int
    pages: int | None = Field(description="Pages of a paged source (PDF); None otherwise.")
    ingested_at: str
    content_hash: str
    complete: bool = Field(description="False while a version is partly stored.")


class ChunkTextOut(_Out):
    """One stored chunk's text and page."""

    page: int | None
    text: str


class StoredDocumentOut(DocumentOut):
    """A stored document and its chunks' text, in order."""

    chunk_texts: list[ChunkTextOut]


class DeletedOut(_Out):
    """What a delete removed."""

    deleted: str
    domain: str
    chunks: int


class CollectionOut(_Out):
    """A collection: its embedding model, size, fingerprint and per-domain counts."""

    name: str
    embedding_model: str | None = None
    dimension: int | None = None
    chunks: int | None = None
    fingerprint: str | None = None
    serving: str | None = None
    domains: dict[str, dict[str, int]] | None = None
    spec: dict[str, Any] | None = None
    error: str | None = Field(None, description="Why the collection could not be read.")


class AdapterOut(_Out):
    """A registered adapter version, with its training record and gate scores."""

    name: str
    version: int
    domain: str
    ref: str
    base_model: str
    base_fingerprint: str
    lora: dict[str, Any]
    data: dict[str, Any]
    raft: dict[str, Any]
    training: dict[str, Any]
    collection: dict[str, Any]
    scores: dict[str, Any]
    created_at: str
    path: str
    active: bool
    stale: bool | None


class Status(_Out):
    """A health answer."""

    status: str


class Ready(_Out):
    """The readiness answer."""

    status: Literal["ready"]
    collection: str


class ModelOut(_Out):
    """One model id (OpenAI's shape)."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    supported_parameters: list[str] = Field(
        description="The request fields this model honours (OpenRouter's convention): no "
        "`tools`, `response_format` or `logprobs`, which are refused with a 400."
    )


class ModelList(_Out):
    """The model ids the key may use (OpenAI's shape)."""

    object: Literal["list"]
    data: list[ModelOut]


class ChatMessageOut(_Out):
    """The assistant's reply."""

    role: Literal["assistant"]
    content: str


class ChoiceOut(_Out):
    """The one choice of a completion."""

    index: int
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"]
    logprobs: None


class ChatUsageOut(_Out):
    """Tokens of the completion (OpenAI's names)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(_Out):
    """An OpenAI chat completion, with the answer's sources and grounding in `adaptrag`."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: ChatUsageOut
    adaptrag: dict[str, Any] = Field(
        description="The answer as /v1/ask returns it, without its text (AnswerOut's fields)."
    )
