"""PDF pages to text laid out as printed, with the position of every piece of it.

PDFium (through `pypdfium2`, Apache-2.0 / BSD-3-Clause; decision 56 says why it and not
pypdf's layout mode or PyMuPDF) gives each character of a page's text layer with its box.
The characters become words, the words lines (by their height on the page), a line's words
cells (split at a gap wider than the line is high). A line whose later cells hold figures
is a table row, its cells joined by " | " ("Net income | 53,394 | 39,510"); any other line
is prose, its words joined by spaces.

Every cell is a `Segment`: where it stands in the page's text and its box on the page, in
thousandths of the page's width and height from the top left corner (so a viewer scales it
to any rendering). A page without a usable text layer (a scan, or glyphs that decode to no
words) is rendered and read by OCR when the `ocr` extra is installed, with boxes alike.
"""

from __future__ import annotations

import ctypes
import functools
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from adaptrag.ingest.reading import (
    TEXT_SETTING,
    LoaderOptions,
    LoadError,
    PageText,
    ReadBudget,
    Segment,
    SkipFile,
    SourceFile,
    over_limit,
    paged,
)
from adaptrag.rag.errors import DocumentNotFoundError
from adaptrag.rag.types import Document

logger = logging.getLogger(__name__)

SCALE = 1000  # boxes are in thousandths of the page's width and height
OCR_RENDER_SCALE = 2.0  # 144 dpi: what RapidOCR reads small print at
_CELL_GAP = 1.2  # a gap wider than this many line heights ends a cell
_WORD_GAP = 0.6  # a gap between two characters wider than this many heights ends a word
_CELL_VALUE = re.compile(r"^[$\u20ac\u00a3(\-\u2014\u2013]?\s*[\d.,]+|^\(?\d|^[\u2014\u2013-]$|%$")
# "Item 7.", "ITEM 1A.", "PART II", "Article 5": capitalised, as headings are (a sentence
# running on "... see item 5 in the Guide" is not one).
_PART = re.compile(r"^(Item|ITEM|Part|PART|Article|ARTICLE)\s+(\d+[A-Za-z]?|[IVXLC]+)\b")
_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more
_HEADING_WORDS = 14  # a heading line is shorter than this many words
_TALL = 1.15  # a line in a font this much larger than the page's text is a heading
_CLOSING = (".", ",", ";", ":", ")")
_CURRENCY = frozenset("$\u20ac\u00a3\u00a5")
_NOT_TEXT = frozenset({"\ufffe", "\ufffd", "\x00"})
_READABLE = frozenset({"Sc", "Sm"})  # currency and math signs; dingbats (So) are not


@dataclass(frozen=True)
class Word:
    """A run of characters on one line, its box in the page's own units (y down)."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    size: float = 0.0  # the font size (its first character's), 0 where unknown (OCR)

    def joined(self, other: Word, gap: str = "") -> Word:
        """This word and `other` as one (`gap` between their texts), boxes united."""
        return Word(
            self.text + gap + other.text,
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
            max(self.size, other.size),
        )


def lines_of(words: Iterable[Word]) -> list[list[Word]]:
    """Words grouped into lines, top to bottom, each line left to right: a word whose middle
    lies within the current line's height joins it."""
    lines: list[list[Word]] = []
    top = bottom = 0.0
    for word in sorted(words, key=lambda w: (w.top, w.left)):
        middle = (word.top + word.bottom) / 2
        if lines and top <= middle <= bottom:
            lines[-1].append(word)
            bottom = max(bottom, word.bottom)
        else:
            lines.append([word])
            top, bottom = word.top, word.bottom
    return [sorted(line, key=lambda w: w.left) for line in lines]


def cells_of(line: Sequence[Word]) -> list[Word]:
    """A line's cells: words closer than `_CELL_GAP` line heights joined by a space; a cell
    that is only a currency sign joins the figure after it ("$ 13,844" -> "$13,844")."""
    height = max(w.bottom for w in line) - min(w.top for w in line)
    cells = [line[0]]
    for word in line[1:]:
        before = cells[-1]
        if before.text in _CURRENCY:
            cells[-1] = before.joined(word)
        elif word.left - before.right > _CELL_GAP * height:
            cells.append(word)
        else:
            cells[-1] = before.joined(word, " ")
    return cells


def layout(words: Iterable[Word], width: float, height: float) -> PageText:
    """The page's text, a line per line, each cell's segment, and its heading lines."""
    text, segments, headings = "", [], []
    lines = lines_of(words)
    body = _median(w.size for line in lines for w in line for _ in w.text)  # by character
    for line in lines:
        cells = cells_of(line)
        row = len(cells) > 1 and any(_CELL_VALUE.search(c.text) for c in cells[1:])
        separator = " | " if row else " "
        text += "\n" if text else ""
        start = len(text)
        for n, cell in enumerate(cells):
            text += separator if n else ""
            segments.append(_segment(len(text), cell, width, height))
            text += cell.text
        tall = body > 0 and _median(w.size for w in line for _ in w.text) >= _TALL * body
        level = None if row else heading_level(text[start:], tall=tall)
        if level is not None:
            headings.append((start, level, text[start:]))
    return PageText(text, tuple(segments), tuple(headings))


def heading_level(line: str, *, tall: bool = False) -> int | None:
    """The level of a heading line, else None: 1 opens a part of the document ("Item 7.
    Management's Discussion...", "PART II", "ARTICLE 5 Termination"); 2 is a short line in
    a larger font than the page's text or in capitals ("CONSOLIDATED BALANCE SHEETS"); 3 a
    short line in title case without closing punctuation ("Liquidity and Capital
    Resources", and the odd column header)."""
    words = line.split()
    if not 1 <= len(words) <= _HEADING_WORDS:
        return None
    part = _PART.match(line)
    if part and (len(words) == 2 or _WORD.search(line[part.end() :])):
        return 1
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 6:
        return None
    if tall or all(c.isupper() for c in letters):
        return 2
    significant = [w for w in words if len(w) > 3 and w[0].isalpha()]
    titled = bool(significant) and all(w[0].isupper() for w in significant)
    return 3 if titled and words[0][0].isupper() and not line.endswith(_CLOSING) else None


def _median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def running_lines(pages: Sequence[PageText]) -> set[str]:
    """Heading lines that repeat on many pages (a running header: the company's name, "Table
    of Contents"), numbers aside: they say nothing about the page they are on."""
    seen: dict[str, int] = {}
    for page in pages:
        for key in {_shape(text) for _, _, text in page.headings}:
            seen[key] = seen.get(key, 0) + 1
    floor = max(3, len(pages) // 5)
    return {key for key, count in seen.items() if count >= floor}


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def without_running(pages: Sequence[PageText]) -> list[PageText]:
    """The pages with their running heading lines (`running_lines`) no longer headings."""
    running = running_lines(pages)
    return [
        replace(page, headings=tuple(h for h in page.headings if _shape(h[2]) not in running))
        for page in pages
    ]


def _segment(offset: int, cell: Word, width: float, height: float) -> Segment:
    def scaled(value: float, whole: float) -> int:
        return max(0, min(SCALE, round(value / whole * SCALE))) if whole > 0 else 0

    return (
        offset,
        len(cell.text),
        scaled(cell.left, width),
        scaled(cell.top, height),
        scaled(cell.right, width),
        scaled(cell.bottom, height),
    )


def reads_as_text(text: str) -> bool:
    """Whether a text layer reads as text: mostly letters, digits, punctuation, currency and
    math signs (" | " between cells), not glyphs a font maps to nothing, to symbols or to
    private characters."""
    visible = [c for c in text if not c.isspace()]
    readable = 0
    for char in visible:
        category = unicodedata.category(char)
        readable += char not in _NOT_TEXT and (category[0] in "LNP" or category in _READABLE)
    return bool(visible) and readable >= 0.8 * len(visible)


def pdfium_words(page: Any, max_chars: int) -> tuple[list[Word], int]:
    """The page's words from PDFium's text layer, and how many characters it holds.

    One call per character (its box) is the cost of a page: the loop keeps the word being
    read in plain locals, and reads the font size once a word.
    """
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count > max_chars:
            return [], count
        text = textpage.get_text_range(0, count) if count > 0 else ""
        _, height = page.get_size()
        raw, char_box = textpage.raw, pdfium_c.FPDFText_GetCharBox
        font_size = pdfium_c.FPDFText_GetFontSize
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        words: list[Word] = []
        chars: list[str] = []
        x0 = y0 = x1 = y1 = size = 0.0
        for index, char in enumerate(text[:count]):
            if char.isspace() or char in _NOT_TEXT:
                if chars:
                    words.append(Word("".join(chars), x0, y0, x1, y1, size))
                    chars = []
                continue
            if not char_box(raw, index, left, right, bottom, top):
                continue
            cx0, cx1 = left.value, right.value
            cy0, cy1 = height - top.value, height - bottom.value
            if chars:
                tall = max(cy1 - cy0, y1 - y0, 1.0)
                if cx0 - x1 > _WORD_GAP * tall or cx0 < x0 - 1:  # a gap, or back to the left
                    words.append(Word("".join(chars), x0, y0, x1, y1, size))
                    chars = []
            if chars:
                chars.append(char)
                x0, y0, x1, y1 = min(x0, cx0), min(y0, cy0), max(x1, cx1), max(y1, cy1)
            else:
                chars = [char]
                x0, y0, x1, y1, size = cx0, cy0, cx1, cy1, font_size(raw, index)
        if chars:
            words.append(Word("".join(chars), x0, y0, x1, y1, size))
        return words, count
    finally:
        textpage.close()


@functools.cache
def ocr_engine() -> Any:
    """RapidOCR (the `ocr` extra), loaded once; None when it is not installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return RapidOCR()


def ocr_page(page: Any) -> PageText:
    """A page without a usable text layer, rendered and read by OCR when the `ocr` extra is
    installed (boxes alike), else empty."""
    engine = ocr_engine()
    if engine is None:
        return PageText("")
    try:
        image = page.render(scale=OCR_RENDER_SCALE).to_numpy()
        found, _ = engine(image)
    except Exception as exc:  # noqa: BLE001 - one unreadable page: the others still count
        logger.warning("OCR could not read a PDF page: %s", exc)
        return PageText("")
    words = [
        Word(
            str(text),
            min(x for x, _ in corners),
            min(y for _, y in corners),
            max(x for x, _ in corners),
            max(y for _, y in corners),
        )
        for corners, text, _ in found or []
    ]
    return layout(words, image.shape[1], image.shape[0])


def read_page(page: Any, max_chars: int) -> PageText:
    """One page's text and segments: its text layer, else OCR (see `ocr_page`)."""
    words, count = pdfium_words(page, max_chars)
    if count > max_chars:
        raise SkipFile(
            f"a page holds {count:,} characters, over what its text may hold "
            f"({TEXT_SETTING}); split the file or raise the limit"
        )
    width, height = page.get_size()
    found = layout(words, width, height)
    return found if reads_as_text(found.text) else ocr_page(page)


def load_pdf(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """PDF text page by page, laid out (a table row's label and figures on one line), each
    cell's box kept (`Document.boxes`); each chunk knows its page. A PDF encrypted with an
    owner password only (every viewer opens it) is opened; one that needs a password is a
    `LoadError`, and one with no usable text layer (a scan) is skipped with the reason."""
    import pypdfium2 as pdfium

    limits, budget = options.limits, ReadBudget(options.limits)
    max_chars = int(limits.max_text_mb * 1e6)
    try:
        pdf = pdfium.PdfDocument(str(file.path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise LoadError(
                "encrypted PDF that needs a password to open; decrypt it first "
                "(qpdf --decrypt --password=PASSWORD in.pdf out.pdf)"
            ) from exc
        raise LoadError(f"unreadable PDF: {exc}") from exc
    try:
        pages: list[PageText] = []
        length = 0
        for index in range(len(pdf)):
            budget.tick("pages")
            page = pdf[index]
            try:
                pages.append(read_page(page, max_chars - length))
            finally:
                page.close()
            length += len(pages[-1].text)
            if problem := over_limit(length, limits.max_text_mb, "its text", TEXT_SETTING):
                raise problem
        title = str(pdf.get_metadata_dict(skip_empty=True).get("Title") or "").strip()
        pages = without_running(pages)
    except pdfium.PdfiumError as exc:
        raise LoadError(f"unreadable PDF: {exc}") from exc
    finally:
        pdf.close()
    if pages and not any(p.text.strip() for p in pages):
        if ocr_engine() is not None:
            raise SkipFile(f"no text in its {len(pages)} pages, and OCR read none in them")
        raise SkipFile(
            f"no text layer in its {len(pages)} pages (a scanned PDF, or glyphs that read as "
            "no words) and OCR is not installed: pip install 'adaptrag[ocr]', or run "
            "ocrmypdf on it first"
        )
    # A title that holds no word (a filer's accession number) names nothing: the file does.
    named = _WORD.search(title) is not None
    return paged(file, pages, title if named else None, "pdf")


MAX_RENDER_WIDTH = 2000  # pixels: a page image wider than this is refused


def render_page(path: str, page: int, width: int, expect: str = "") -> bytes:
    """Page `page` (from 1) of the PDF at `path` as a PNG `width` pixels wide.

    `expect`, text a stored chunk of that page starts with, checks that the file is still
    the one ingested (its page still holds that text); a mismatch, a missing file or a
    page out of range is a `DocumentNotFoundError` saying which and what to do.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except (pdfium.PdfiumError, OSError) as exc:
        raise DocumentNotFoundError(
            "the document's PDF can no longer be read at the path it was ingested from; "
            "ingest it again"
        ) from exc
    try:
        if not 1 <= page <= len(pdf):
            raise DocumentNotFoundError(f"no page {page}: the document has {len(pdf)} pages")
        sheet = pdf[page - 1]
        if expect and not _holds(sheet, expect):
            raise DocumentNotFoundError(
                "the PDF at the document's path changed since it was ingested (its page no "
                "longer holds the stored text); ingest it again"
            )
        scale = width / max(sheet.get_size()[0], 1.0)
        image = sheet.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
    finally:
        pdf.close()


def _holds(page: Any, expect: str) -> bool:
    """Whether the page's text, laid out as at ingest, holds `expect` (spacing aside). A
    page whose text layer is unusable was read by OCR at ingest, which is too slow to run
    again for an image: it is taken as it is."""
    words, _ = pdfium_words(page, 10_000_000)
    laid_out = layout(words, *page.get_size()).text
    if not reads_as_text(laid_out):
        return True
    return " ".join(expect.split())[:80] in " ".join(laid_out.split())
