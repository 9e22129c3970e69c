"""PDF pages laid out from PDFium's character boxes: rows, boxes, and bounded bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.documents import pages_pdf, scanned_pdf, table_pdf

from adaptrag.ingest import pdf
from adaptrag.ingest.chunking import Chunker
from adaptrag.ingest.loaders import LoaderOptions, LoadLimits, SkipFile, SourceFile, load
from adaptrag.rag.errors import DocumentNotFoundError
from adaptrag.rag.types import Source

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "filings"


def _file(path: Path) -> SourceFile:
    return SourceFile(path, path.parent, path.name)


def test_each_cell_keeps_its_box_and_a_span_within_it_is_highlighted(tmp_path: Path) -> None:
    [doc] = load(_file(table_pdf(tmp_path / "report.pdf")))
    row = next(line for line in doc.text.splitlines() if "$1,200" in line)
    start = doc.text.index("$1,200")
    (box,) = [b for b in doc.boxes if b[0] <= start < b[0] + b[1]]
    assert doc.text[box[0] : box[0] + box[1]] == "$1,200"
    # The figure stands right of its label, on the same line of the page.
    label = next(b for b in doc.boxes if b[0] == doc.text.index(row.split(" | ")[0]))
    assert label[4] < box[2] and abs(label[3] - box[3]) <= 5
    chunks = Chunker(lambda t: len(t.split()), 200, 0).split(doc)
    source = Source(doc.doc_id, "c1", chunks[1].text, 1.0, chunks[1].metadata)
    (highlight,) = source.boxes_of("$1,200")
    assert highlight.page == 2 and (highlight.x0, highlight.x1) == (box[2], box[4])
    assert source.boxes_of("not on the page") == []


def test_a_merged_source_highlights_a_value_on_its_second_page(tmp_path: Path) -> None:
    from adaptrag.rag.retrieval.retriever import merge_adjacent

    [doc] = load(_file(pages_pdf(tmp_path / "manual.pdf")))
    chunks = Chunker(lambda t: len(t.split()), 200, 0).split(doc)
    sources = [
        Source(doc.doc_id, f"c{c.chunk_index}", c.text, 1.0, {**c.metadata, "chunk_index": n})
        for n, c in enumerate(chunks)
    ]
    (merged,) = merge_adjacent(sources)
    boxes = merged.boxes_of("36 months")
    assert [b.page for b in boxes] == [2]
    # Cut to the span: narrower than the whole sentence's line on page 2.
    line = chunks[1].metadata["boxes"][0]
    assert line[2] <= boxes[0].x0 < boxes[0].x1 <= line[4]
    assert boxes[0].x1 - boxes[0].x0 < line[4] - line[2]


@pytest.mark.skipif(not FILINGS.exists(), reason="shared filings not present")
def test_a_real_filing_reads_its_statement_rows_fast_with_boxes() -> None:
    started = time.perf_counter()
    [doc] = load(_file(FILINGS / "APPLE_2015_10K.pdf"))
    seconds = time.perf_counter() - started
    row = "Payments for acquisition of property, plant and equipment | (11,247) | (9,571) | (8,165)"
    assert row in doc.text
    assert doc.metadata["pages"] == 84 and len(doc.boxes) > 5000
    assert seconds < 30  # pypdf's layout mode took about a second a page here


def test_a_text_layer_of_glyphs_that_read_as_no_words_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("zapfdingbats", size=12)  # letters drawn as dingbats: symbols, no words
    document.multi_cell(w=0, text="The notice period is ninety days. " * 20)
    document.output(str(tmp_path / "garbage.pdf"))
    assert not pdf.reads_as_text("\u2734\u2748\u2745 \u25a0\u274f\u25bc" * 40)
    assert pdf.reads_as_text("107") and pdf.reads_as_text("Net income | 53,394")
    monkeypatch.setattr(pdf, "ocr_engine", lambda: None)
    with pytest.raises(SkipFile, match="glyphs that read as no words"):
        load(_file(tmp_path / "garbage.pdf"))


def _tiny_objects_pdf(path: Path, count: int) -> Path:
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=2)
    for n in range(count):
        document.text(x=5 + (n % 100) * 2, y=5 + (n // 100) * 2.8, text="7")
    document.output(str(path))
    return path


def test_a_page_of_ten_thousand_tiny_text_objects_is_read_within_the_caps(
    tmp_path: Path,
) -> None:
    path = _tiny_objects_pdf(tmp_path / "dust.pdf", 10_000)
    [doc] = load(_file(path))
    assert doc.text.count("7") == 10_000 and doc.metadata["pages"] == 1
    small = LoaderOptions(limits=LoadLimits(max_text_mb=0.005))
    with pytest.raises(SkipFile, match="a page holds 29,998 characters"):
        load(_file(path), small)


def test_a_two_thousand_page_filing_is_read_or_skipped_by_its_page_cap(tmp_path: Path) -> None:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("Helvetica", size=10)
    for n in range(2_000):
        document.add_page()
        document.cell(text=f"Page {n + 1}: revenue rose 4% in segment {n % 7}.")
    path = tmp_path / "long.pdf"
    document.output(str(path))
    [doc] = load(_file(path))
    assert doc.metadata["pages"] == 2_000 and doc.page_starts[-1][1] == 2_000
    with pytest.raises(SkipFile, match="more than 500 pages"):
        load(_file(path), LoaderOptions(limits=LoadLimits(max_elements=500)))


def test_a_scanned_page_renders_though_its_text_came_from_ocr(tmp_path: Path) -> None:
    scan = scanned_pdf(tmp_path / "scan.pdf", ["The notice period is ninety days."])
    [doc] = load(_file(scan))
    image = pdf.render_page(str(scan), 1, 300, expect=doc.text)  # as the page route asks
    assert image.startswith(b"\x89PNG")
    with pytest.raises(DocumentNotFoundError, match="no page 2: the document has 1 pages"):
        pdf.render_page(str(scan), 2, 300)
    # A text page still proves it is the file ingested: other text is a changed file.
    manual = pages_pdf(tmp_path / "manual.pdf")
    with pytest.raises(DocumentNotFoundError, match="changed since it was ingested"):
        pdf.render_page(str(manual), 1, 300, expect="The warranty lasts 99 years.")
