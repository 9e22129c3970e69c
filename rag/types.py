"""Data types shared across packages, defined once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DOMAIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def is_domain_name(name: str | None) -> bool:
    """Whether `name` is a valid domain: a letter or digit, then up to 63 of [A-Za-z0-9_.-]."""
    return bool(name) and re.match(DOMAIN_PATTERN, name or "") is not None


# Characters that make a name display as something other than what it is.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def name_problem(name: str) -> str | None:
    """Why `name` may not become a file name or document id (None: it may): it holds a
    control character (C0, DEL, C1), a lone surrogate (not UTF-8 text) or a bidirectional
    control (U+202E makes `cod.exe` read as `exe.doc`)."""
    for char in name:
        category = unicodedata.category(char)
        if category == "Cc":
            return f"holds the control character {char!r}"
        if category == "Cs":
            return "holds a lone surrogate, which is not UTF-8 text"
        if char in BIDI_CONTROLS:
            return f"holds the bidirectional control U+{ord(char):04X}"
    return None


@dataclass(frozen=True)
class Document:
    """One source document as a loader read it, before chunking.

    `doc_id` is stable within a domain: the path relative to the ingested root, or the
    record id for multi-record files (JSONL, JSON, CSV). `page_starts` holds, for paged
    formats (PDF), where each page's text starts: (character offset, page number). `boxes`
    holds, where the format has positions (PDF), where each piece of the text stands on its
    page: (offset, length, x0, y0, x1, y1), the box in thousandths of the page's width and
    height from its top left corner. `headings` holds, where the loader finds them (PDF),
    the heading lines: (offset, level, line), level 1 opening a part of the document
    ("Item 7."), 2 and 3 sections within it; a chunk is indexed with those in effect where
    it starts.
    """

    doc_id: str
    text: str
    title: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    page_starts: tuple[tuple[int, int], ...] = ()
    boxes: tuple[tuple[int, int, int, int, int, int], ...] = ()
    headings: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedding model, in document order."""

    doc_id: str
    chunk_index: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SparseVector:
    """Hashed term weights: parallel lists of indices and values."""

    indices: list[int]
    values: list[float]


def whole_number(value: Any) -> int | None:
    """`value` when it is an int (not a bool: JSON's true is no page number), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Box:
    """Where a piece of text stands on its page: the page (from 1) and the box's corners in
    thousandths of the page's width and height from its top left corner."""

    page: int
    x0: int
    y0: int
    x1: int
    y1: int


def cut_box(box: Sequence[int], start: int, end: int) -> list[int]:
    """A stored box (offset, length, x0, y0, x1, y1) cut to its text between `start` and
    `end` (offsets like its own), its width in proportion to the characters kept."""
    offset, length, x0, y0, x1, y1 = box
    first, last = max(offset, start), min(offset + length, end)
    if length <= 0:
        return [first, 0, x0, y0, x1, y1]
    width = x1 - x0
    left = x0 + round(width * (first - offset) / length)
    right = x0 + round(width * (last - offset) / length)
    return [first, last - first, left, y0, max(right, left), y1]


@dataclass(frozen=True)
class Source:
    """A retrieved chunk with its score; `metadata` carries the stored payload."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def page(self) -> int | None:
        """The page the chunk starts on (paged formats such as PDF), else None."""
        return whole_number(self.metadata.get("page"))

    @property
    def pages(self) -> list[int]:
        """Every page the source spans, in order: one for a chunk (a chunk never spans two),
        several for consecutive chunks merged at retrieval; empty where unpaged."""
        starts = self.page_starts
        if starts:
            return sorted({page for _, page in starts})
        return [self.page] if self.page is not None else []

    @property
    def page_starts(self) -> list[tuple[int, int]]:
        """(character offset, page) where each page's text starts in `text` (merged
        sources; a single chunk has none)."""
        found = []
        for item in self.metadata.get("page_starts") or []:
            if isinstance(item, list | tuple) and len(item) == 2:
                offset, page = whole_number(item[0]), whole_number(item[1])
                if offset is not None and page is not None:
                    found.append((offset, page))
        return found

    def page_at(self, offset: int) -> int | None:
        """The page holding character `offset` of `text`."""
        page = self.page
        for start, start_page in self.page_starts:
            if start > offset:
                break
            page = start_page
        return page

    def find(self, span: str) -> int | None:
        """Where `span` first stands in `text` (case and spacing aside), else None."""
        flat = " ".join(self.text.split()).lower()
        found = flat.find(" ".join(span.split()).lower()) if span.strip() else -1
        if found < 0:
            return None
        # The offset in `text` of the found span's first non-space character.
        offsets = [n for n, char in enumerate(self.text) if not char.isspace()]
        nonspace_before = len(flat[:found].replace(" ", ""))
        return offsets[min(nonspace_before, len(offsets) - 1)]

    def page_of(self, span: str) -> int | None:
        """The page holding `span` (see `find`), else the page the source starts on."""
        if len(self.page_starts) < 2:
            return self.page
        offset = self.find(span)
        return self.page if offset is None else self.page_at(offset)

    @property
    def boxes(self) -> list[list[int]]:
        """Where each piece of `text` stands on its page, where the format has positions
        (PDF): [offset, length, x0, y0, x1, y1], the box in thousandths of the page."""
        return [
            [int(v) for v in item]
            for item in self.metadata.get("boxes") or []
            if isinstance(item, list | tuple)
            and len(item) == 6
            and all(whole_number(v) is not None for v in item)
        ]

    def span_at(self, span: str) -> tuple[int, int] | None:
        """Where `span` stands in `text` (see `find`): its first and past-last offsets."""
        start = self.find(span)
        if start is None:
            return None
        wanted = len("".join(span.split()))
        end = start
        while wanted and end < len(self.text):
            wanted -= not self.text[end].isspace()
            end += 1
        return start, end

    def boxes_of(self, span: str) -> list[Box]:
        """The boxes on the page(s) of `span` within `text`, so a viewer can highlight it;
        empty where it is not found or the format keeps no positions."""
        found = self.span_at(span)
        return [] if found is None else self.boxes_between(*found)

    def boxes_between(self, start: int, end: int) -> list[Box]:
        """The boxes on the page(s) of `text[start:end]`, each cut to it (`cut_box`)."""
        out = []
        for box in self.boxes:
            if box[0] < end and box[0] + box[1] > start:
                offset, _, x0, y0, x1, y1 = cut_box(box, start, end)
                page = self.page_at(offset)
                if page is not None:
                    out.append(Box(page, x0, y0, x1, y1))
        return out

    @property
    def label(self) -> str:
        """How a citation names it: the document, and its page(s) or section where known
        (`annual-report.pdf p. 47`, `report.pdf pp. 46-47`, `lease.md § Termination`)."""
        pages = self.pages
        if len(pages) > 1:
            return f"{self.doc_id} pp. {pages[0]}-{pages[-1]}"
        if self.page is not None:
            return f"{self.doc_id} p. {self.page}"
        title = str(self.metadata.get("title") or "").strip().lower()
        headings = self.metadata.get("headings")
        sections = [str(h) for h in headings or [] if str(h).strip().lower() != title]
        return f"{self.doc_id} \u00a7 {sections[-1]}" if sections else self.doc_id

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, with its `page`, `pages` and `label`."""
        return {**asdict(self), "page": self.page, "pages": self.pages, "label": self.label}


@dataclass(frozen=True)
class Usage:
    """Tokens a generation consumed, and what they cost (0 for the local model)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        """Two calls' tokens and cost together (an answer's and its query expansion's)."""
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True)
class Citation:
    """One `[n]` marker of an answer: the source it points at, or None when it points nowhere."""

    marker: int
    chunk_id: str | None
    doc_id: str | None
    page: int | None = None  # the page of the source that holds the cited words
    boxes: list[Box] = field(default_factory=list)  # where they stand on it (PDF)

    @property
    def valid(self) -> bool:
        """Whether the marker names one of the answer's sources."""
        return self.chunk_id is not None


@dataclass(frozen=True)
class CheckedValue:
    """One value an answer states (a number, amount, percentage, date, duration or quoted
    span), and the sources that hold it: numbered 1.. as the prompt's sources."""

    text: str
    kind: str  # number, amount, percent, duration, date, quote
    sources: list[int] = field(default_factory=list)
    cited: bool = False  # held by a source the answer cites
    pages: list[int | None] = field(default_factory=list)  # where each source holds it

    @property
    def supported(self) -> bool:
        """Whether some source given to the model holds the value."""
        return bool(self.sources)


@dataclass(frozen=True)
class Grounding:
    """The verdict on an answer's values (`adaptrag.rag.answering.grounding`): each one looked up in
    the sources, and what was done about those no source holds (`grounding_action`):
    `kept` (flagged only), `quoted` (replaced by the best supporting quote) or `refused`
    (replaced by "I don't know."); `model_text` keeps the model's own words when replaced."""

    values: list[CheckedValue] = field(default_factory=list)
    action: str = "kept"
    model_text: str | None = None

    @property
    def unsupported(self) -> list[CheckedValue]:
        """The values no source holds."""
        return [v for v in self.values if not v.supported]

    @property
    def supported(self) -> bool | None:
        """True when every value is held by a source; None when the answer states none."""
        return not self.unsupported if self.values else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, with `supported` and the `unsupported` texts."""
        return {
            "supported": self.supported,
            "values": [{**asdict(v), "supported": v.supported} for v in self.values],
            "unsupported": [v.text for v in self.unsupported],
            "action": self.action,
            "model_text": self.model_text,
        }


@dataclass(frozen=True)
class Answer:
    """An answer with everything needed to trust it: sources, citations, route, cost, timing.

    `sources` are the chunks the generator was given, numbered [1].. in order; `grounding`
    says which of the values the answer states they hold; `dropped` are
    retrieved chunks left out because the prompt budget was full. `timings` holds
    milliseconds per stage (`expand_ms` with query expansion on, `embed_ms`, `search_ms`,
    `rerank_ms`, `generate_ms`, `total_ms`)
    and `load_ms`: model loading the request triggered or waited for (first use), which no
    stage and not `total_ms` include, so the wall time is `total_ms + load_ms`.
    """

    text: str
    sources: list[Source]
    citations: list[Citation]
    backend: str
    model: str
    adapter: str | None = None
    route: str = ""
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)
    dropped: list[Source] = field(default_factory=list)
    grounding: Grounding | None = None  # set on every answer the pipeline gives

    @property
    def invalid_citations(self) -> list[int]:
        """Markers in the text that point at no source (a sign of a made-up citation)."""
        return [c.marker for c in self.citations if not c.valid]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        data = asdict(self)
        data["sources"] = [s.to_dict() for s in self.sources]
        data["dropped"] = [s.to_dict() for s in self.dropped]
        data["citations"] = [{**asdict(c), "valid": c.valid} for c in self.citations]
        data["invalid_citations"] = self.invalid_citations
        data["grounding"] = self.grounding.to_dict() if self.grounding else None
        return data


@dataclass(frozen=True)
class QARow:
    """One question of a QA data set (training or evaluation), in our JSON Lines format
    (`eval.datasets`).

    `answers` lists acceptable answers (the first is the reference); `evidence` optional gold
    passages; `doc_id` the document that answers, when known, and `page` its page.
    """

    id: str
    question: str
    answers: list[str]
    domain: str | None = None
    evidence: list[str] = field(default_factory=list)
    doc_id: str | None = None
    page: int | None = None  # the page of `doc_id` that answers (paged formats), when known
