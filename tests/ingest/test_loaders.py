"""Loaders: every supported format, encodings, and the skip/fail rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.documents import scanned_pdf, table_pdf

from adaptrag.ingest.loaders import LoaderOptions, LoadError, SkipFile, SourceFile, discover, load
from adaptrag.rag.errors import ConfigError

SHARED_CORPUS = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "pubmedqa_train_corpus.jsonl"
)
FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "filings"


def _file(path: Path) -> SourceFile:
    return SourceFile(path, path.parent, path.name)


def test_text_file_is_one_document_titled_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notice.txt"
    path.write_text("Ninety days notice.")
    [doc] = load(_file(path))
    assert (doc.doc_id, doc.title, doc.text, doc.source) == (
        "notice.txt",
        "notice",
        "Ninety days notice.",
        str(path),
    )


def test_markdown_title_comes_from_the_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "lease.md"
    path.write_text("Intro line\n\n# Office Lease\n\nText.\n")
    [doc] = load(_file(path))
    assert doc.title == "Office Lease" and doc.metadata["format"] == "markdown"


def test_html_drops_scripts_and_keeps_headings(tmp_path: Path) -> None:
    path = tmp_path / "policy.html"
    path.write_text(
        "<html><head><title>Policy</title><script>var x = 1;</script></head>"
        "<body><h2>Limits</h2><p>Cap is 35%.</p><style>p{}</style></body></html>"
    )
    [doc] = load(_file(path))
    assert doc.title == "Policy"
    assert "## Limits" in doc.text and "Cap is 35%." in doc.text
    assert "var x" not in doc.text and "p{}" not in doc.text


def test_pdf_text_is_extracted_page_by_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("First page about rent.", "Second page about deposits."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(text=text)
    pdf.set_title("Lease PDF")
    path = tmp_path / "lease.pdf"
    pdf.output(str(path))
    [doc] = load(_file(path))
    assert "rent" in doc.text and "deposits" in doc.text
    assert doc.metadata["pages"] == 2 and doc.title == "Lease PDF"


def test_a_pdf_table_row_keeps_its_label_and_each_chunk_its_page(tmp_path: Path) -> None:
    from adaptrag.ingest.chunking import Chunker

    [doc] = load(_file(table_pdf(tmp_path / "report.pdf")))
    lines = doc.text.splitlines()
    assert "Revenue | $1,200 | $1,100" in lines and "Net income | 310 | (45)" in lines
    chunks = Chunker(lambda text: len(text.split()), 200, 10).split(doc)
    assert [c.metadata["page"] for c in chunks] == [1, 2]  # a chunk never spans two pages
    assert "Revenue" in chunks[1].text and "Annual" not in chunks[1].text


def test_a_pdf_with_an_owner_password_only_opens_as_every_viewer_opens_it(
    tmp_path: Path,
) -> None:
    [doc] = load(_file(table_pdf(tmp_path / "filing.pdf", owner="owner-secret")))
    assert "Revenue | $1,200 | $1,100" in doc.text and doc.metadata["pages"] == 2
    locked = table_pdf(tmp_path / "locked.pdf", user_password="open-sesame", owner="x")
    with pytest.raises(LoadError, match="needs a password to open; decrypt it first"):
        load(_file(locked))


def test_a_scanned_pdf_is_read_by_ocr_and_a_blank_one_skipped(tmp_path: Path) -> None:
    lines = ["The notice period is ninety days.", "Total revenues          $38,226"]
    [doc] = load(_file(scanned_pdf(tmp_path / "scan.pdf", lines)))
    text = doc.text.splitlines()
    assert text[0] == "The notice period is ninety days."
    assert text[1].endswith("| $38,226") and doc.page_starts == ((0, 1),)
    with pytest.raises(SkipFile, match="no text in its 1 pages, and OCR read none"):
        load(_file(scanned_pdf(tmp_path / "blank.pdf", None)))


def test_without_ocr_a_scanned_pdf_is_skipped_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adaptrag.ingest import pdf

    monkeypatch.setattr(pdf, "ocr_engine", lambda: None)  # as without the ocr extra
    scan = scanned_pdf(tmp_path / "scan.pdf", ["The notice period is ninety days."])
    with pytest.raises(
        SkipFile, match=r"no text layer in its 1 pages .* pip install 'adaptrag\[ocr\]'"
    ):
        load(_file(scan))


def test_an_html_table_row_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "results.html"
    path.write_text(
        "<html><body><h2>Results</h2><table><tr><th></th><th>2025</th><th>2024</th></tr>"
        "<tr><td>Revenue</td><td>$1,200</td><td>$1,100</td></tr></table></body></html>"
    )
    [doc] = load(_file(path))
    assert "Revenue | $1,200 | $1,100" in doc.text.splitlines()


@pytest.mark.skipif(not FILINGS.exists(), reason="shared filings not present")
def test_a_real_10k_as_filed_opens_with_its_pages_and_table_rows() -> None:
    [doc] = load(_file(FILINGS / "APPLE_2015_10K.pdf"))  # owner-password encrypted
    assert doc.metadata["pages"] == 84 and len(doc.page_starts) == 84
    assert "Interest and dividend income | $2,921 | $1,795 | $1,616" in doc.text.splitlines()


def test_corrupt_pdf_fails_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01")
    with pytest.raises(LoadError, match="PDF"):
        load(_file(path))


def test_docx_headings_become_markdown_headings(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Employment Contract", level=1)
    document.add_paragraph("Probation lasts six months.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Salary", "EUR 70,000"
    path = tmp_path / "contract.docx"
    document.save(str(path))
    [doc] = load(_file(path))
    assert "# Employment Contract" in doc.text and "Probation lasts six months." in doc.text
    assert "Salary | EUR 70,000" in doc.text and doc.metadata["format"] == "markdown"


def test_corrupt_docx_fails_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(LoadError, match="DOCX"):
        load(_file(path))


def test_corpus_jsonl_ingests_one_document_per_record_with_no_options(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"doc_id": "a1", "title": "Alpha", "text": "first"},
        {"doc_id": "a2", "title": "Beta", "text": "second"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    docs = load(_file(path))
    assert [(d.doc_id, d.title, d.text) for d in docs] == [
        ("a1", "Alpha", "first"),
        ("a2", "Beta", "second"),
    ]


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="shared data sets not present")
def test_the_shared_pubmedqa_corpus_loads_as_is() -> None:
    docs = load(SourceFile(SHARED_CORPUS, SHARED_CORPUS, SHARED_CORPUS.name))
    assert len(docs) == 500 and len({d.doc_id for d in docs}) == 500


def test_record_fields_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(
        json.dumps({"key": "q7", "body": "Answer text", "heading": "FAQ 7", "lang": "en"}) + "\n"
    )
    [doc] = load(
        _file(path), LoaderOptions(text_field="body", id_field="key", title_field="heading")
    )
    assert (doc.doc_id, doc.title, doc.text) == ("q7", "FAQ 7", "Answer text")
    assert doc.metadata["lang"] == "en"


def test_a_record_without_the_text_field_fails_naming_the_option(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(json.dumps({"id": "1", "body": "x"}) + "\n")
    with pytest.raises(LoadError, match="--text-field"):
        load(_file(path))


def test_broken_json_line_fails_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{not json}\n')
    with pytest.raises(LoadError, match="line 2"):
        load(_file(path))


def test_json_array_of_records(tmp_path: Path) -> None:
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"id": 1, "text": "one"}, {"text": "two"}]))
    docs = load(_file(path))
    assert [d.doc_id for d in docs] == ["1", "docs.json#2"]


def test_csv_with_a_text_column_and_without(tmp_path: Path) -> None:
    with_text = tmp_path / "a.csv"
    with_text.write_text("doc_id,text,region\nx1,Rates rose,EU\n")
    [doc] = load(_file(with_text))
    assert (doc.doc_id, doc.text, doc.metadata["region"]) == ("x1", "Rates rose", "EU")
    without = tmp_path / "b.csv"
    without.write_text("fund,fee\nAlpha Growth,0.45%\n")
    [doc] = load(_file(without))
    assert doc.text == "fund: Alpha Growth\nfee: 0.45%"


def test_latin1_text_is_read_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "notice.txt"
    text = "Le locataire doit donner un préavis de trois mois à la société Müller & Söhne. " * 3
    path.write_bytes(text.encode("latin-1"))
    [doc] = load(_file(path))
    assert "préavis" in doc.text and "Müller" in doc.text


def test_unsupported_and_empty_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.md").write_text("   \n\n")
    with pytest.raises(SkipFile, match=r"unsupported file type \.png"):
        load(_file(tmp_path / "image.png"))
    with pytest.raises(SkipFile, match="empty"):
        load(_file(tmp_path / "empty.txt"))
    with pytest.raises(SkipFile, match="no text"):
        load(_file(tmp_path / "blank.md"))


def test_discover_recurses_filters_and_passes_over_hidden_entries(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / "sub" / "draft-c.txt").write_text("c")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("x")
    (tmp_path / ".hidden.md").write_text("x")
    assert [f.rel for f in discover([tmp_path])] == ["a.md", "sub/b.txt", "sub/draft-c.txt"]
    assert [f.rel for f in discover([tmp_path], include=["*.txt"], exclude=["draft-*"])] == [
        "sub/b.txt"
    ]
    assert [f.rel for f in discover([tmp_path], include=["sub/*"])] == [
        "sub/b.txt",
        "sub/draft-c.txt",
    ]


def test_a_file_given_directly_is_its_own_root(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("x")
    [found] = discover([path])
    assert (found.root, found.rel) == (path, "one.txt")


def test_a_missing_path_is_a_one_line_config_error(tmp_path: Path) -> None:
    from adaptrag.rag.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        list(discover([tmp_path / "nope"]))


def test_links_are_listed_but_never_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "inside").mkdir(parents=True)
    outside.mkdir()
    (outside / "passwd.txt").write_text("secret outside the root")
    (root / "inside" / "real.txt").write_text("inside the root")
    (root / "passwd.txt").symlink_to(outside / "passwd.txt")
    (root / "alias.txt").symlink_to(root / "inside" / "real.txt")  # a link, even inside
    (root / "etc").symlink_to(outside, target_is_directory=True)
    found = {f.rel: f for f in discover([root])}
    assert set(found) == {"alias.txt", "etc", "inside/real.txt", "passwd.txt"}
    assert load(found["inside/real.txt"])[0].text == "inside the root"
    for rel in ("alias.txt", "etc", "passwd.txt"):
        with pytest.raises(SkipFile, match="symbolic link"):
            load(found[rel])
    # a link put in place after discovery is refused when the file is read
    swapped = found["inside/real.txt"]
    swapped.path.unlink()
    swapped.path.symlink_to(outside / "passwd.txt")
    with pytest.raises(SkipFile, match="symbolic link"):
        load(swapped)


def test_a_damaged_pdf_the_parser_repairs_is_read_without_noise_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="The deposit is returned within 30 days.")
    path = tmp_path / "damaged.pdf"
    pdf.output(str(path))
    data = path.read_bytes()
    start = data.rindex(b"startxref") + len(b"startxref\n")
    end = data.index(b"\n", start)
    path.write_bytes(data[:start] + b"99" + data[end:])  # a wrong xref offset, repairable
    with caplog.at_level(logging.WARNING):
        [doc] = load(_file(path))
    assert "deposit" in doc.text
    assert caplog.records == [] and capfd.readouterr().err == ""


def test_pptx_slides_are_pages_with_their_tables_and_notes(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Q3 results"
    first.placeholders[1].text = "Revenue grew 12% on the year."
    first.notes_slide.notes_text_frame.text = "Say the margin is 21.6%."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "By region"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for r, row in enumerate((("Region", "Revenue"), ("Europe", "EUR 40.2 million"))):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    deck.save(str(tmp_path / "q3.pptx"))
    [doc] = load(_file(tmp_path / "q3.pptx"))
    assert doc.metadata["pages"] == 2 and [page for _, page in doc.page_starts] == [1, 2]
    assert "Say the margin is 21.6%." in doc.text
    assert "Europe | EUR 40.2 million" in doc.text.splitlines()


def test_xlsx_sheets_are_sections_and_rows_are_lines(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Limits"
    sheet.append(["Counterparty", "Limit", "Currency"])
    sheet.append(["Northwind", 25_000_000, "EUR"])
    sheet.append([None, None, None])
    book.create_sheet("Notes").append(["Reviewed semi-annually"])
    book.save(str(tmp_path / "limits.xlsx"))
    [doc] = load(_file(tmp_path / "limits.xlsx"))
    assert doc.text.splitlines() == [
        "## Limits",
        "Counterparty | Limit | Currency",
        "Northwind | 25000000 | EUR",
        "## Notes",
        "Reviewed semi-annually",
    ]
    (tmp_path / "fake.xlsx").write_bytes(b"not a zip at all")
    with pytest.raises(LoadError, match="unreadable XLSX"):
        load(_file(tmp_path / "fake.xlsx"))


def test_an_installed_package_adds_a_format_through_the_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adaptrag.ingest import loaders

    site = tmp_path / "site"
    (site / "notes_loader-1.0.dist-info").mkdir(parents=True)
    (site / "notes_loader.py").write_text(
        "from adaptrag.ingest.loaders import read_text\n"
        "from adaptrag.rag.types import Document\n\n"
        "def load_note(file, options):\n"
        "    text = read_text(file.path, options.limits).upper()\n"
        "    return [Document(file.rel, text, 'A note', str(file.path), {'format': 'note'})]\n"
    )
    info = site / "notes_loader-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: notes-loader\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[adaptrag.loaders]\n.note = notes_loader:load_note\nbroken = notes_loader:missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    loaders.forget_installed_loaders()
    monkeypatch.setattr(loaders, "_registered", {})
    try:
        (tmp_path / "call.note").write_text("call the landlord")
        [doc] = load(_file(tmp_path / "call.note"))
        assert (doc.text, doc.metadata["format"]) == ("CALL THE LANDLORD", "note")
        assert ".broken" not in loaders.loaders()  # a broken plugin is logged and left out
        loaders.register_loader(".note", lambda file, options: [])  # in-process wins
        with pytest.raises(SkipFile, match="no text found"):
            load(_file(tmp_path / "call.note"))
        with pytest.raises(ConfigError, match=r"a loader.s suffix is like \.epub"):
            loaders.register_loader("note", lambda file, options: [])
    finally:
        monkeypatch.undo()
        loaders.forget_installed_loaders()
    with pytest.raises(SkipFile, match=r"unsupported file type \.note"):
        load(_file(tmp_path / "call.note"))
