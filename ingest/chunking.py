"""Chunking: documents to token-bounded chunks, with Markdown headings and PDF pages as
metadata.

Sizes are counted in the embedding model's own tokens and capped at what the model reads
(its max sequence length, minus special tokens and the passage prefix), so no chunk is
ever silently truncated by the encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from adaptrag.rag.types import Chunk, Document, cut_box

_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
_SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]


class Chunker:
    """Splits a document into chunks of at most `chunk_tokens` tokens.

    Args:
        token_length: counts tokens the way the embedding model does.
        chunk_tokens: largest chunk, in tokens.
        chunk_overlap_tokens: tokens shared by consecutive chunks (less than chunk_tokens).
    """

    def __init__(
        self, token_length: Callable[[str], int], chunk_tokens: int, chunk_overlap_tokens: int
    ) -> None:
        self.token_length = token_length
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap_tokens = min(chunk_overlap_tokens, chunk_tokens // 2)
        self._splitter = self._recursive(chunk_tokens)
        self._markdown = MarkdownHeaderTextSplitter(_HEADINGS, strip_headers=False)

    def _recursive(self, size: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=size,
            chunk_overlap=min(self.chunk_overlap_tokens, size // 2),
            length_function=self.token_length,
            separators=_SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, document: Document) -> list[Chunk]:
        """The document's chunks in order; Markdown sections never share a chunk."""
        if document.metadata.get("format") == "markdown":
            # The Markdown splitter joins lines with Markdown hard breaks ("  \n"); undo that.
            sections = [
                (s.page_content.replace("  \n", "\n"), _heading_path(s.metadata))
                for s in self._markdown.split_text(document.text)
            ]
        else:
            sections = [(document.text, [])]
        chunks: list[Chunk] = []
        for section, headings in sections:
            for start, text, page in _pages(section, document.page_starts):
                cursor = 0
                for piece in self._pieces(text):
                    found = text.find(piece, cursor)
                    at = start + max(found, 0)
                    in_effect = headings or headings_at(document.headings, at)
                    metadata: dict[str, object] = {"headings": in_effect} if in_effect else {}
                    if page is not None:
                        metadata["page"] = page
                    if found >= 0:
                        cursor = found + 1
                        if document.boxes:
                            metadata["boxes"] = boxes_within(document.boxes, at, at + len(piece))
                    chunks.append(Chunk(document.doc_id, len(chunks), piece, metadata))
        return chunks

    def _pieces(self, text: str) -> list[str]:
        """A section's chunks: itself when it fits (one token count, where the splitter
        would count each of its pieces: most of a small file's cost), else split."""
        if text.strip() and self.token_length(text) <= self.chunk_tokens:
            return [text.strip()]
        return self._bounded(self._splitter.split_text(text))

    def _bounded(self, pieces: list[str]) -> list[str]:
        """Re-split any piece the merge step left over the limit (token counts do not add up
        exactly across joins), with a smaller target until each piece fits."""
        out: list[str] = []
        for piece in pieces:
            size = self.chunk_tokens
            parts = [piece]
            while any(self.token_length(p) > self.chunk_tokens for p in parts) and size > 1:
                size = max(1, int(size * 0.8))
                parts = self._recursive(size).split_text(piece)
            out.extend(p for p in parts if p.strip())
        return out


def _pages(text: str, starts: tuple[tuple[int, int], ...]) -> list[tuple[int, str, int | None]]:
    """The text page by page (a chunk never spans two pages), or whole when unpaged: each
    page's offset in `text`, its text and its number."""
    if not starts:
        return [(0, text, None)]
    ends = [offset for offset, _ in starts[1:]] + [len(text)]
    return [
        (offset, text[offset:end], page) for (offset, page), end in zip(starts, ends, strict=True)
    ]


def boxes_within(boxes: Sequence[Sequence[int]], start: int, end: int) -> list[list[int]]:
    """The boxes of the text between `start` and `end` (document offsets), cut to it
    (`cut_box`), their offsets made relative to `start`."""
    within = []
    for box in boxes:
        if box[0] < end and box[0] + box[1] > start:
            offset, length, *corners = cut_box(box, start, end)
            within.append([offset - start, length, *corners])
    return within


def headings_at(headings: Sequence[tuple[int, int, str]], offset: int) -> list[str]:
    """The heading lines in effect at `offset` of a document's text, outermost first: the
    last of each level opened before it since the last of a higher level."""
    path: dict[int, str] = {}
    for at, level, line in headings:
        if at > offset:
            break
        path = {k: v for k, v in path.items() if k < level}
        path[level] = line
    return [path[level] for level in sorted(path)]


def _heading_path(metadata: dict[str, str]) -> list[str]:
    return [metadata[key] for _, key in _HEADINGS if key in metadata]
