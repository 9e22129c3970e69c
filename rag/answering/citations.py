"""Citations: which `[n]` markers an answer uses, and which source each one points at."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adaptrag.rag.types import Citation, Source

# [1], [2, 3], [1][2]; a bracket holding anything but numbers is not a citation.
# A citation marker: `[1]`, `[1, 3]`, `[2;4]`; group 1 holds the numbers. The one pattern
# the pipeline, the scoring and the metrics all use.
CITATION_PATTERN = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


def cited_numbers(marker_numbers: str) -> list[int]:
    """The numbers of one marker's group 1 (`"1, 3"` -> [1, 3])."""
    return [int(number) for number in re.split(r"[,;]", marker_numbers)]


def extract_citations(text: str, sources: Sequence[Source]) -> list[Citation]:
    """Each distinct marker in order of first use; a marker outside 1..len(sources) is invalid.

    A valid citation names the page of its source that holds the cited words and, where
    the source keeps positions (PDF), their boxes on it."""
    citations = []
    for marker, words in _cited_words(text).items():  # in order of first use
        if 1 <= marker <= len(sources):
            source = sources[marker - 1]
            span = _cited_span(source, words)
            found = source.span_at(span) if span else None
            page = source.page if found is None else source.page_at(found[0])
            boxes = source.boxes_between(*found) if found else []
            citations.append(Citation(marker, source.chunk_id, source.doc_id, page, boxes))
        else:
            citations.append(Citation(marker, None, None))
    return citations


def _cited_words(text: str) -> dict[int, list[str]]:
    """For each marker, in order of first use, the words written before its first use since
    the previous marker or sentence end: what it vouches for."""
    found: dict[int, list[str]] = {}
    previous = 0
    for match in CITATION_PATTERN.finditer(text):
        span = re.split(r"(?<=[.!?])\s+", text[previous : match.start()].strip())[-1]
        for marker in cited_numbers(match.group(1)):
            found.setdefault(marker, span.split())
        previous = match.end()
    return found


def _cited_span(source: Source, words: list[str]) -> str | None:
    """The longest run of the cited words the source holds (the one nearest the citation
    among equals), where it matters: a source on several pages or with positions."""
    if len(source.pages) < 2 and not source.metadata.get("boxes"):
        return None
    words = [w.strip(".,;:!?\"'()") for w in words]
    for size in range(len(words), 0, -1):
        for start in range(len(words) - size, -1, -1):
            span = " ".join(w for w in words[start : start + size] if w)
            if len(span) >= 4 and source.find(span) is not None:
                return span
    return None
