"""What reading one file is: the file, its bounds, how it fails, and the pages it yields.

The pieces every loader shares (`adaptrag.ingest.loaders` for the formats and the
registry, `adaptrag.ingest.pdf` for PDFs): `SourceFile`, `LoaderOptions` and its
`LoadLimits`, `SkipFile` and `LoadError`, the `ReadBudget` of one file, and `paged`, which
joins a paged format's `PageText`s into one `Document`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adaptrag.rag.types import Document


class SkipFile(Exception):
    """The file holds nothing to ingest (unsupported type, empty); not an error."""


class LoadError(Exception):
    """The file could not be read (corrupt PDF, broken JSON...); reported as failed."""


@dataclass(frozen=True)
class LoadLimits:
    """What reading one file may cost; a file over a bound is skipped with the reason.

    Args:
        max_file_mb: size on disk. Default 100.
        max_expanded_mb: what an archive format unzips to before parsing (a DOCX's parts,
            from its zip directory, checked before anything is unzipped). Default 100.
        max_text_mb: a file's text, decoded (text formats) or extracted (PDF, DOCX, HTML),
            and so the largest document. Default 20.
        max_record_mb: one record's text in JSON, JSONL and CSV files. Default 5.
        max_elements: pages, paragraphs and table rows, or records in one file.
            Default 200,000.
        max_seconds: time to read one file, checked between its elements (one parser call
            is bounded by the sizes above). Default 120.
    """

    max_file_mb: float = 100.0
    max_expanded_mb: float = 100.0
    max_text_mb: float = 20.0
    max_record_mb: float = 5.0
    max_elements: int = 200_000
    max_seconds: float = 120.0


class ReadBudget:
    """One file's elements and time so far, against its limits."""

    def __init__(self, limits: LoadLimits) -> None:
        self.limits = limits
        self.elements = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def tick(self, what: str, n: int = 1) -> None:
        """Count `n` more elements; `SkipFile` when over the element or time bound."""
        self.elements += n
        if self.elements > self.limits.max_elements:
            raise SkipFile(
                f"more than {self.limits.max_elements:,} {what} "
                "(ADAPTRAG_INGEST_MAX_ELEMENTS); split the file or raise the limit"
            )
        if time.monotonic() > self.deadline:
            raise SkipFile(
                f"reading took over {self.limits.max_seconds:g} s "
                "(ADAPTRAG_INGEST_MAX_SECONDS); split the file or raise the limit"
            )


def over_limit(size_bytes: float, limit_mb: float, what: str, setting: str) -> SkipFile | None:
    """The `SkipFile` naming `what`, its size and `setting` when over `limit_mb`, else None."""
    if size_bytes <= limit_mb * 1e6:
        return None
    return SkipFile(
        f"{what} is {size_bytes / 1e6:,.1f} MB, over the {limit_mb:g} MB limit ({setting}); "
        "split the file or raise the limit"
    )


TEXT_SETTING = "ADAPTRAG_INGEST_MAX_TEXT_MB"


def check_text_size(text: str, limits: LoadLimits, what: str = "its text") -> None:
    """Raise `SkipFile` when `text` is over `limits.max_text_mb`."""
    if problem := over_limit(len(text), limits.max_text_mb, what, TEXT_SETTING):
        raise problem


@dataclass(frozen=True)
class LoaderOptions:
    """How record files map to documents.

    Args:
        text_field: record field (JSON/JSONL key, CSV column) holding the text. Default
            "text"; a CSV without it gets every column as "name: value" lines.
        id_field: record field holding the document id. Default "doc_id", then "id"; a
            record with neither gets "<file>#<n>".
        title_field: record field holding the title. Default "title".
        id_prefix: put before every document id as `PREFIX/`, so two folders holding the same
            relative paths (two `lease.md`) stay two documents. Default "" (none).
        limits: what reading one file may cost (`LoadLimits`; the `ingest_max_*` settings).
    """

    text_field: str = "text"
    id_field: str = "doc_id"
    title_field: str = "title"
    id_prefix: str = ""
    limits: LoadLimits = LoadLimits()


@dataclass(frozen=True)
class SourceFile:
    """A file found under an ingested root; `rel` is its stable, POSIX-style relative path."""

    path: Path
    root: Path
    rel: str


def single_document(
    file: SourceFile, text: str, title: str | None, fmt: str, **extra: Any
) -> list[Document]:
    """The one document of a single-document file (titled by its name when untitled)."""
    return [
        Document(
            doc_id=file.rel,
            text=text,
            title=title or file.path.stem,
            source=str(file.path),
            metadata={"format": fmt, **extra},
        )
    ]


Segment = tuple[int, int, int, int, int, int]  # offset, length, x0, y0, x1, y1 (per mille)


@dataclass(frozen=True)
class PageText:
    """A page's text and, where the format has positions (PDF), where each of its pieces
    stands on the page (`Segment`s: offset and length in `text`, box in thousandths of the
    page's width and height from its top left corner) and its heading lines (offset in
    `text`, level: 1 opens a part of the document, 2 and 3 sections within it; the line)."""

    text: str
    segments: tuple[Segment, ...] = ()
    headings: tuple[tuple[int, int, str], ...] = ()


def paged(
    file: SourceFile, pages: Sequence[PageText], title: str | None, fmt: str
) -> list[Document]:
    """One document of the pages with text joined, where each starts kept
    (`Document.page_starts`: pages are numbered from 1, empty ones count) and each page's
    segments moved to their place in the whole text (`Document.boxes`)."""
    text, starts = "", []
    boxes: list[Segment] = []
    headings: list[tuple[int, int, str]] = []
    for number, content in enumerate(pages, start=1):
        page_text = content.text.rstrip()
        lead = len(page_text) - len(page_text.lstrip())
        if not page_text.strip():
            continue
        text += "\n\n" if text else ""
        starts.append((len(text), number))
        boxes += [
            (len(text) + offset - lead, length, x0, y0, x1, y1)
            for offset, length, x0, y0, x1, y1 in content.segments
            if offset >= lead and offset + length <= len(page_text)
        ]
        headings += [(len(text) + at - lead, level, line) for at, level, line in content.headings]
        text += page_text[lead:]
    document = single_document(file, text, title, fmt, pages=len(pages))[0]
    return [
        replace(document, page_starts=tuple(starts), boxes=tuple(boxes), headings=tuple(headings))
    ]
