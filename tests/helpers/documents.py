"""Documents as users have them, built for tests: a PDF with a table of figures."""

from __future__ import annotations

from pathlib import Path


def table_pdf(path: Path, *, user_password: str | None = None, owner: str = "") -> Path:
    """A two-page PDF: prose on page 1, a table of figures on page 2 (fpdf2 lays each cell
    out at its column, as a filing's table is); optionally encrypted with pypdf."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    pdf.multi_cell(w=0, text="Annual report. Management discusses the results of the year.")
    pdf.add_page()
    for row in (
        ("", "2025", "2024"),
        ("Revenue", "$ 1,200", "$ 1,100"),
        ("Net income", "310", "(45)"),
    ):
        for width, cell in zip((80, 40, 40), row, strict=True):
            pdf.cell(w=width, h=8, text=cell, align="L" if width == 80 else "R")
        pdf.ln()
    pdf.output(str(path))
    if user_password is not None or owner:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(user_password=user_password or "", owner_password=owner, algorithm="AES-128")
        writer.write(str(path))
    return path


MANUAL_PAGES = (
    "The Quillmark manual explains how to install the printer on a shelf.",
    "The Quillmark warranty lasts 36 months from the date of purchase.",
    "Returns of the Quillmark printer are accepted within 30 days of delivery.",
)


def pages_pdf(path: Path, pages: tuple[str, ...] = MANUAL_PAGES) -> Path:
    """A PDF of one sentence a page (each page becomes its own chunk)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(w=0, text=text)
    pdf.output(str(path))
    return path


def scanned_pdf(path: Path, lines: list[str] | None) -> Path:
    """A PDF whose page is a picture (of `lines` of text, or of a grey box): a scan."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", (1400, 120 + 100 * len(lines or [])), "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=44)
    for n, line in enumerate(lines or []):
        draw.text((40, 60 + 100 * n), line, fill="black", font=font)
    if lines is None:
        draw.rectangle((100, 20, 600, 100), fill="grey")
    picture.save(path.with_suffix(".png"))
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(path.with_suffix(".png")), x=10, y=10, w=190)
    pdf.output(str(path))
    return path
