"""What is indexed with each chunk: the chunk itself, or the chunk in its document's context.

A chunk of a filing's segment table rarely names the company; a contract clause rarely
names the contract. With `chunk_context="title"`, the text that is embedded and
sparse-encoded starts with the document's title, its file name (for one-document files)
and the chunk's heading path, so a question naming the company or the contract finds it.
The stored text (what prompts and answers show) stays the chunk alone.

The mode is recorded in the collection (`CollectionSpec.chunk_context`); a collection keeps
the mode it was created with, so its chunks are always indexed one way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adaptrag.rag.types import Chunk, Document

CONTEXT_MODES = ("none", "title")
_RECORD_FORMATS = frozenset({"jsonl", "json", "csv"})  # many documents per file
_MAX_CONTEXT_CHARS = 300


def context_line(document: Document, chunk: Chunk) -> str:
    """The title, the file name (one-document files) and the heading path, each said once."""
    title = _clean(document.title)
    records = document.metadata.get("format") in _RECORD_FORMATS
    name = "" if records else Path(document.source).name
    if Path(name).stem == title:  # a document titled by its file's name says it once
        name = ""
    headings = [h for h in map(_clean, chunk.metadata.get("headings", [])) if h]
    path = " > ".join(h for h in headings if h.lower() != title.lower())
    parts = [p for p in (title, name, path) if p]
    return " | ".join(dict.fromkeys(parts))[:_MAX_CONTEXT_CHARS]


# A cell that is a figure: "$38,226", "(1,499)", "$(9,571)", "12.5%", "—" (what a table row's
# later cells hold).
_FIGURE = re.compile(
    r"^[$\u20ac\u00a3]?[(\-\u2014\u2013]?[$\u20ac\u00a3]?\s*[\d.,]+\)?%?$|^[\u2014\u2013-]$"
)


def embedded_text(text: str) -> str:
    """What the embedding model reads of an indexed text: a table row (cells joined by
    " | ") by its labels, its figures left to the keyword index. A sentence embedder reads
    a run of numbers as noise; a statement's rows are found by what they name."""
    if " | " not in text:
        return text
    lines = []
    for line in text.split("\n"):
        if " | " in line:
            line = " | ".join(c for c in line.split(" | ") if not _FIGURE.match(c.strip()))
        lines.append(line)
    return "\n".join(lines)


def embedded_texts(texts: Sequence[str]) -> list[str]:
    """`embedded_text` of each."""
    return [embedded_text(text) for text in texts]


def _clean(text: object) -> str:
    return " ".join(str(text).split())


def indexed_text(
    document: Document,
    chunk: Chunk,
    mode: str,
    *,
    token_length: Callable[[str], int],
    max_tokens: int,
    generated: str = "",
) -> str:
    """The text to embed and sparse-encode for `chunk`, within `max_tokens` model tokens.

    The context (the title line in "title" mode, then any `generated` sentence) is
    shortened word by word until the whole fits, so the model never truncates the chunk.
    """
    line = context_line(document, chunk) if mode == "title" else ""
    context = " ".join(part for part in (line, generated) if part)
    if not context:
        return chunk.text
    room = max_tokens - token_length(chunk.text) - 2  # the joining newlines
    words = context.split()
    while words and token_length(" ".join(words)) > room:
        words = words[: max(0, len(words) - max(1, len(words) // 4))]
    return f"{' '.join(words)}\n\n{chunk.text}" if words else chunk.text


def stored_indexed_text(
    payload: dict[str, Any],
    mode: str,
    *,
    token_length: Callable[[str], int],
    max_tokens: int,
) -> str:
    """What was indexed for a stored chunk, from its payload (to index it again).

    Chunks store the context they were indexed with (`context`); for chunks stored before
    that field, it is rebuilt from the title, source and headings in the payload.
    """
    text = str(payload.get("text", ""))
    if "context" in payload:
        context = str(payload["context"] or "")
        return f"{context}\n\n{text}" if context else text
    document = Document(
        str(payload.get("doc_id", "")),
        "",
        str(payload.get("title", "")),
        str(payload.get("source", "")),
        {"format": payload.get("format")},
    )
    chunk = Chunk(
        document.doc_id,
        int(payload.get("chunk_index", 0)),
        text,
        {"headings": payload.get("headings", [])},
    )
    return indexed_text(document, chunk, mode, token_length=token_length, max_tokens=max_tokens)
