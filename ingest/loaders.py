"""Loaders: files on disk to `Document`s, one concern per format.

Single-document formats (.txt .md .html .pdf .docx) give one document whose `doc_id` is
the path relative to the ingested root. Record formats (.jsonl .json .csv) give one
document per record whose `doc_id` is the record's id field. A file that cannot be used
raises `SkipFile` (unsupported, empty: reported as skipped) or `LoadError` (unreadable,
corrupt: reported as failed); the job goes on either way.

Every loader is bounded (`LoadLimits`): the file's size on disk, what it expands to (a
DOCX's unzipped parts, the decoded or extracted text), its elements (pages, paragraphs,
records) and the time spent reading it. A file over a bound is skipped with the reason, so
a hostile file (a zip bomb, a 50 MB HTML page) costs at most the bounds, not the machine.
Binary content is detected from the whole file before any parsing.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from adaptrag.ingest.pdf import load_pdf
from adaptrag.ingest.reading import (
    TEXT_SETTING,
    LoaderOptions,
    LoadError,
    LoadLimits,
    PageText,
    ReadBudget,
    Segment,
    SkipFile,
    SourceFile,
    check_text_size,
    over_limit,
    paged,
    single_document,
)
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.types import Document

__all__ = [  # what loaders import from here, defined in `reading`
    "TEXT_SETTING",
    "LoadError",
    "LoadLimits",
    "LoaderOptions",
    "PageText",
    "Segment",
    "SkipFile",
    "SourceFile",
    "check_text_size",
    "load_pdf",
    "paged",
]


def discover(
    paths: Sequence[str | Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[SourceFile]:
    """Files under `paths`, sorted; directories recursed, hidden entries passed over.

    A file given directly is its own root (so `--sync` on it touches only its records).
    `include`/`exclude` are globs matched against the relative path and the file name.
    """
    for given in paths:
        root = Path(given).expanduser().resolve()
        if not root.exists():
            raise ConfigError(f"path {given} does not exist; check the spelling")
        if root.is_file():
            yield SourceFile(root, root, root.name)
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                continue
            if not path.is_file() and not path.is_symlink():
                continue  # links are listed, to be reported as skipped by `load`
            if include and not _matches(rel, include):
                continue
            if exclude and _matches(rel, exclude):
                continue
            yield SourceFile(path, root, rel)


def is_confined(file: SourceFile) -> bool:
    """Whether the file is what its path under the root names: no link on the way, no escape.

    Checked again right before reading, so a link put in place after `discover` is refused
    too (what remains is the moment between this check and the read).
    """
    if file.path == file.root:  # a file given directly: its own (resolved) root
        return file.path.is_file() and not file.path.is_symlink()
    expected = file.root / file.rel
    try:
        real = Path(os.path.realpath(expected, strict=True))
    except (OSError, ValueError):
        return False
    return real == expected and real.is_relative_to(file.root)


def _matches(rel: str, globs: Sequence[str]) -> bool:
    name = PurePosixPath(rel).name
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)


def load(file: SourceFile, options: LoaderOptions = LoaderOptions()) -> list[Document]:
    """The documents in `file`; raises `SkipFile` or `LoadError` with a one-line reason."""
    if not is_confined(file):
        raise SkipFile(
            "a symbolic link (or a path through one); links are not followed, so nothing "
            "outside the ingested folder is read: ingest the target itself"
        )
    suffix = file.path.suffix.lower()
    known = loaders()
    loader = known.get(suffix)
    if loader is None:
        supported = " ".join(sorted(known))
        raise SkipFile(f"unsupported file type {suffix or '(none)'} (supported: {supported})")
    size = file.path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    limits = options.limits
    if problem := over_limit(size, limits.max_file_mb, "the file", "ADAPTRAG_INGEST_MAX_FILE_MB"):
        raise problem
    documents = [d for d in loader(file, options) if d.text.strip()]
    for document in documents:
        check_text_size(document.text, limits, f"document {document.doc_id}'s text")
    if not documents:
        raise SkipFile("no text found")
    if options.id_prefix:
        prefix = options.id_prefix.strip("/")
        documents = [replace(d, doc_id=f"{prefix}/{d.doc_id}") for d in documents]
    return documents


# --- text decoding -------------------------------------------------------------------


# Bytes no text file holds in any encoding we read (C0 controls but tab, newlines, form
# feed and escape; DEL): real text has none, random or compressed bytes ~11%.
_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32), 127])
_TEXT_BYTES = bytes(sorted(set(range(256)) - set(_CONTROL_BYTES)))
BINARY_SHARE = 0.01


def binary_share(data: bytes) -> float:
    """The share of `data` that is control bytes no text holds (cheap: one C pass)."""
    return len(data.translate(None, _TEXT_BYTES)) / max(len(data), 1)


def read_text(path: Path, limits: LoadLimits = LoadLimits()) -> str:
    """The file's text: UTF-8 when it is, else the encoding charset-normalizer detects.

    Binary content (over 1% control bytes in the whole file) and text over
    `limits.max_text_mb` are skipped before anything decodes or parses them.
    """
    data = path.read_bytes()
    if problem := over_limit(len(data), limits.max_text_mb, "its text", TEXT_SETTING):
        raise problem
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and (share := binary_share(data)) > BINARY_SHARE:
        raise SkipFile(
            f"binary content: {share:.0%} of its bytes are control bytes no text holds; "
            "exclude it (--exclude) or convert it to text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return data.decode("latin-1")  # every byte is a latin-1 character; never fails
    return str(best)


# --- single-document formats -----------------------------------------------------------


def load_text(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """Plain text; the title is the file name."""
    return single_document(file, read_text(file.path, options.limits), None, "text")


_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def load_markdown(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """Markdown; the title is the first level-1 heading. Headings become chunk metadata."""
    text = read_text(file.path, options.limits)
    match = _MD_TITLE.search(text)
    return single_document(file, text, match.group(1) if match else None, "markdown")


def load_html(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """HTML; scripts, styles and navigation dropped, headings kept as Markdown headings,
    each table row on one line ("label | cell | cell")."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(file.path, options.limits), "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    for table in reversed(soup.find_all("table")):  # innermost first
        rows = (
            " | ".join(cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"]))
            for row in table.find_all("tr")
        )
        table.replace_with("\n\n" + "\n".join(r for r in rows if r.strip(" |")) + "\n\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return single_document(file, text, title, "markdown", content_type="html")


def check_unzipped_size(path: Path, limits: LoadLimits) -> None:
    """Skip an Office file (a zip) whose parts would unzip past `max_expanded_mb`.

    The zip directory says what every part unzips to, before anything is unzipped (zipfile
    never inflates a part past its declared size: a lie fails its CRC). Raises
    `zipfile.BadZipFile` for a file that is not a zip.
    """
    with zipfile.ZipFile(path) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    setting = "ADAPTRAG_INGEST_MAX_EXPANDED_MB"
    if problem := over_limit(expanded, limits.max_expanded_mb, "unzipped, it", setting):
        raise problem


def load_docx(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """Word .docx; heading styles become Markdown headings, tables become rows of cells."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    limits, budget = options.limits, ReadBudget(options.limits)
    try:
        check_unzipped_size(file.path, limits)
        document = docx.Document(str(file.path))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoadError(f"unreadable DOCX: {exc}") from exc
    parts: list[str] = []
    length = 0
    for paragraph in document.paragraphs:
        budget.tick("paragraphs and table rows")
        text = paragraph.text.strip()
        length += len(text)
        if problem := over_limit(length, limits.max_text_mb, "its text", TEXT_SETTING):
            raise problem
        style = paragraph.style.name if paragraph.style is not None else ""
        if text and style.startswith("Heading") and style[-1:].isdigit():
            parts.append(f"{'#' * int(style[-1])} {text}")
        elif text and style == "Title":
            parts.append(f"# {text}")
        elif text:
            parts.append(text)
    for table in document.tables:
        for row in table.rows:
            budget.tick("paragraphs and table rows")
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or None
    return single_document(file, "\n\n".join(parts), title, "markdown", content_type="docx")


def load_pptx(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """PowerPoint .pptx: each slide's titles, text and tables (a row per line, cells joined
    by " | ") and its notes; a slide is a page, so chunks cite "p. 3" for slide 3."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    limits, budget = options.limits, ReadBudget(options.limits)
    try:
        check_unzipped_size(file.path, limits)
        deck = Presentation(str(file.path))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoadError(f"unreadable PPTX: {exc}") from exc
    slides, length = [], 0
    for slide in deck.slides:
        budget.tick("slides")
        lines = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines += [p.strip() for p in shape.text_frame.text.splitlines() if p.strip()]
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    lines.append(" | ".join(cell.text.strip() for cell in row.cells))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            lines += [notes] if notes else []
        slides.append("\n".join(lines))
        length += len(slides[-1])
        if problem := over_limit(length, limits.max_text_mb, "its text", TEXT_SETTING):
            raise problem
    return paged(file, [PageText(s) for s in slides], deck.core_properties.title or None, "pptx")


def load_xlsx(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """Excel .xlsx: each sheet under a heading of its name, a row per line with its cells
    joined by " | " (values as last calculated, not formulas); empty rows dropped."""
    from openpyxl import load_workbook

    limits, budget = options.limits, ReadBudget(options.limits)
    try:
        check_unzipped_size(file.path, limits)
        book = load_workbook(str(file.path), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"unreadable XLSX: {exc}") from exc
    parts, length = [], 0
    try:
        for sheet in book.worksheets:
            parts.append(f"## {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                budget.tick("rows")
                cells = ["" if v is None else str(v).strip() for v in row]
                if any(cells):
                    while cells and not cells[-1]:
                        cells.pop()
                    parts.append(" | ".join(cells))
                    length += len(parts[-1])
                    if problem := over_limit(length, limits.max_text_mb, "its text", TEXT_SETTING):
                        raise problem
        title = book.properties.title or None
    finally:
        book.close()
    return single_document(file, "\n".join(parts), title, "markdown", content_type="xlsx")


# --- record formats ------------------------------------------------------------------


def _record_document(
    file: SourceFile, record: Any, position: int, options: LoaderOptions, fmt: str
) -> Document:
    if not isinstance(record, dict):
        raise LoadError(f"record {position} is not an object; each record must be a JSON object")
    if options.text_field not in record:
        raise LoadError(
            f"record {position} has no {options.text_field!r} field; pass --text-field NAME"
        )
    doc_id = record.get(options.id_field, record.get("id"))
    title = record.get(options.title_field)
    text = str(record[options.text_field] or "")
    setting = "ADAPTRAG_INGEST_MAX_RECORD_MB"
    limit = options.limits.max_record_mb
    if problem := over_limit(len(text), limit, f"record {position}", setting):
        raise problem
    used = {options.text_field, options.id_field, options.title_field, "id"}
    extra = {
        k: v for k, v in record.items() if k not in used and isinstance(v, str | int | float | bool)
    }
    return Document(
        doc_id=str(doc_id) if doc_id not in (None, "") else f"{file.rel}#{position}",
        text=text,
        title=str(title) if title else file.path.stem,
        source=str(file.path),
        metadata={"format": fmt, **extra},
    )


def load_jsonl(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """One document per JSON line; blank lines ignored, a broken line fails the file."""
    documents, budget = [], ReadBudget(options.limits)
    for number, line in enumerate(read_text(file.path, options.limits).splitlines(), start=1):
        if not line.strip():
            continue
        budget.tick("records")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"line {number} is not valid JSON: {exc.msg}") from exc
        documents.append(_record_document(file, record, number, options, "jsonl"))
    return documents


def load_json(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """A JSON array of records, or one record object."""
    try:
        data = json.loads(read_text(file.path, options.limits))
    except json.JSONDecodeError as exc:
        raise LoadError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    records = data if isinstance(data, list) else [data]
    ReadBudget(options.limits).tick("records", len(records))
    return [_record_document(file, r, i, options, "json") for i, r in enumerate(records, start=1)]


def load_csv(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """One document per row; the text column, or every column as "name: value" lines."""
    try:
        text = read_text(file.path, options.limits)
        rows = csv.DictReader(io.StringIO(text))
        documents, budget = [], ReadBudget(options.limits)
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            budget.tick("rows")
            documents.append(_csv_document(file, row, number, options))
    except csv.Error as exc:
        raise LoadError(f"malformed CSV: {exc}") from exc
    return documents


def _csv_document(
    file: SourceFile, row: dict[str, Any], number: int, options: LoaderOptions
) -> Document:
    """A CSV row's document: its text column, or every column as "name: value" lines."""
    if options.text_field not in row:
        text = "\n".join(f"{k}: {v}" for k, v in row.items() if k and v)
        row = {**row, options.text_field: text}
    return _record_document(file, row, number, options, "csv")


class Loader(Protocol):
    """Reads one file into documents: the seam a package adds a format through.

    Raise `SkipFile` (nothing to ingest: unsupported content, no text) or `LoadError`
    (unreadable) with a one-line reason; keep within `options.limits` (`check_text_size`,
    `check_unzipped_size`). A paged format sets `Document.page_starts` so chunks know their
    page.
    """

    def __call__(self, file: SourceFile, options: LoaderOptions, /) -> list[Document]:
        """The documents in `file`."""
        ...


LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".jsonl": load_jsonl,
    ".json": load_json,
    ".csv": load_csv,
}
ENTRY_POINT_GROUP = "adaptrag.loaders"
_registered: dict[str, Loader] = {}
logger = logging.getLogger(__name__)


def register_loader(suffix: str, loader: Loader) -> None:
    """Read files ending in `suffix` (".epub") with `loader`, in this process; it takes
    precedence over a built-in or installed loader of the same suffix."""
    if not re.fullmatch(r"\.[A-Za-z0-9_.-]+", suffix):
        raise ConfigError(f"a loader's suffix is like .epub, not {suffix!r}")
    _registered[suffix.lower()] = loader


def loaders() -> dict[str, Loader]:
    """Every loader by suffix: built in, then installed packages' (entry point group
    `adaptrag.loaders`, name = suffix), then `register_loader`'s; later ones win."""
    return {**LOADERS, **_installed_loaders(), **_registered}


@functools.cache
def _installed_loaders() -> dict[str, Loader]:
    from importlib.metadata import entry_points

    found: dict[str, Loader] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        suffix = point.name if point.name.startswith(".") else f".{point.name}"
        try:
            found[suffix.lower()] = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop ingestion
            logger.warning(
                "loader %s for %s (%s) could not be imported and is not used: %s",
                point.value,
                suffix,
                point.dist.name if point.dist else "?",
                exc,
            )
    return found


def forget_installed_loaders() -> None:
    """Look for installed loaders again on next use (after installing a package)."""
    _installed_loaders.cache_clear()
