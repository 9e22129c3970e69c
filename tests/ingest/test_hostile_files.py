"""Hostile but ordinary files: each is bounded (size, expansion, elements, time) and skipped
with its reason, and the run goes on (issue 31)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import docx
import pytest
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest.loaders import LoaderOptions, LoadLimits, SkipFile, SourceFile, load

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def _file(path: Path) -> SourceFile:
    return SourceFile(path, path.parent, path.name)


def zip_bomb_docx(path: Path, expands_to_mb: int = 300) -> Path:
    """A real DOCX whose document part unzips to `expands_to_mb` MB (it is ~1 MB on disk)."""
    plain = path.with_suffix(".plain.docx")
    document = docx.Document()
    document.add_paragraph("A contract with a very long annex.")
    document.save(str(plain))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                out.writestr(info, source.read(info))
        with out.open("word/document.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body>')
            chunk = b"<w:p><w:r><w:t>" + b"A" * 4000 + b"</w:t></w:r></w:p>"
            for _ in range(expands_to_mb * MB // len(chunk)):
                part.write(chunk)
            part.write(b"</w:body></w:document>")
    plain.unlink()
    return path


def test_a_zip_bomb_docx_is_skipped_from_its_zip_directory_before_unzipping(
    tmp_path: Path,
) -> None:
    bomb = zip_bomb_docx(tmp_path / "annex.docx")
    assert bomb.stat().st_size < 2 * MB
    with pytest.raises(SkipFile, match=r"unzipped, it is 300\.\d MB, over the 100 MB limit"):
        load(_file(bomb))


def test_a_big_html_page_is_skipped_before_it_is_parsed(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    row = "<tr><td>Revenue</td><td>1,234</td></tr>\n"
    page.write_text("<html><body><table>" + row * (50 * MB // len(row)) + "</table></body></html>")
    with pytest.raises(SkipFile, match=r"its text is 50\.\d MB, over the 20 MB limit"):
        load(_file(page))


def test_a_huge_jsonl_record_is_skipped_with_its_position(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "short"}),
        json.dumps({"id": "b", "text": "x" * 6 * MB}),
    ]
    records.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkipFile, match=r"record 2 is 6\.0 MB, over the 5 MB limit"):
        load(_file(records))


def test_a_file_with_more_elements_than_allowed_is_skipped(tmp_path: Path) -> None:
    records = tmp_path / "many.jsonl"
    records.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(11)))
    options = LoaderOptions(limits=LoadLimits(max_elements=10))
    with pytest.raises(SkipFile, match="more than 10 records"):
        load(_file(records), options)
    assert len(load(_file(records), LoaderOptions(limits=LoadLimits(max_elements=11)))) == 11


def test_reading_past_the_time_limit_stops_between_pages(tmp_path: Path) -> None:
    pdf = next((ROOT / "examples" / "corpus" / "legal").glob("*.pdf"))
    options = LoaderOptions(limits=LoadLimits(max_seconds=1e-9))
    with pytest.raises(SkipFile, match=r"reading took over 1e-09 s"):
        load(SourceFile(pdf, pdf.parent, pdf.name), options)


def test_a_file_over_the_size_on_disk_is_skipped(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("fine text\n" * 200_000)  # 2 MB
    with pytest.raises(SkipFile, match=r"the file is 2\.0 MB, over the 1 MB limit"):
        load(_file(notes), LoaderOptions(limits=LoadLimits(max_file_mb=1)))


def test_binary_content_without_a_nul_byte_is_skipped(tmp_path: Path) -> None:
    noise = bytes(b for b in os.urandom(400_000) if b != 0)[:300_000]
    fake = tmp_path / "notes.md"
    fake.write_bytes(noise)
    with pytest.raises(SkipFile, match=r"binary content: \d+% of its bytes are control bytes"):
        load(_file(fake))


def test_text_with_tabs_escapes_and_utf16_is_still_text(tmp_path: Path) -> None:
    tabbed = tmp_path / "table.txt"
    tabbed.write_text("name\tvalue\nnotice\t90 days\n\x1b[1mbold\x1b[0m\n\f\n")
    assert "90 days" in load(_file(tabbed))[0].text
    wide = tmp_path / "wide.txt"
    wide.write_bytes("Ninety days notice.".encode("utf-16"))
    assert load(_file(wide))[0].text == "Ninety days notice."


def test_an_ingest_with_hostile_files_skips_them_and_stores_the_rest(
    tmp_path: Path, embedder: object
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    zip_bomb_docx(folder / "annex.docx")
    (folder / "noise.md").write_bytes(bytes(range(1, 256)) * 1200)
    (folder / "lease.md").write_text("# Lease\n\nThe tenant gives ninety days notice.\n")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--domain", "legal", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 1 and report["failed"] == []
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"annex.docx", "noise.md"}
    assert "ADAPTRAG_INGEST_MAX_EXPANDED_MB" in reasons["annex.docx"]
    assert reasons["noise.md"].startswith("binary content")
