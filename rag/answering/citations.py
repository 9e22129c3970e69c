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
    """Each distinct marker in order of first use; a marker outside 1..len(sources) is invalid."""
    seen: list[int] = []
    for match in CITATION_PATTERN.finditer(text):
        for marker in cited_numbers(match.group(1)):
            if marker not in seen:
                seen.append(marker)
    citations = []
    for marker in seen:
        if 1 <= marker <= len(sources):
            source = sources[marker - 1]
            citations.append(Citation(marker, source.chunk_id, source.doc_id))
        else:
            citations.append(Citation(marker, None, None))
    return citations
