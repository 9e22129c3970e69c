"""Real 10-K PDFs as filed: do the retrieved chunks hold a table's value, on its page?

    python benchmarks/bench_filings.py [--filings ../shared/data/filings] [--top-k 5]

28 questions about table values of the 7 filings in `../shared/data/filings`
(`benchmarks/data/filing_tables.jsonl`: the question, the value as printed, the filing and
the page the table sits on, written by reading the pages). All 7 filings are ingested into
one domain and each question is asked of all of them (`Pipeline.retrieve`, hybrid, top 5).

Two loaders, in the same run, each into a fresh embedded store:
- before: what adaptrag did until now and what anyone writes first: pypdf's plain
  `extract_text()` per page, the pages joined into one text, no page kept. Encrypted files
  are opened with the empty password here, so the comparison is about text, not access;
  adaptrag before refused the 5 owner-password files, and the "as shipped" row counts
  their questions as misses.
- after: adaptrag's loader (layout extraction: a row's label and figures on one line, cells
  joined by " | "; a chunk per page at most, its page in the payload).

Per loader: document hit@k (a top-k chunk of the right filing), page hit@k (of the right
filing and of a page holding the value; the before chunks get the page whose text holds
their opening words), value found@k (a top-k chunk of the right filing holds the value as
a whole number), chunks and ingest seconds. Writes benchmarks/results/filings.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.eval.datasets import read_qa
from adaptrag.eval.stats import bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.ingest.loaders import LoaderOptions, SourceFile, load_pdf, register_loader
from adaptrag.rag import Pipeline
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Document, QARow, Source

HERE = Path(__file__).resolve().parent
FILINGS = HERE.parents[1] / "shared" / "data" / "filings"
QUESTIONS = HERE / "data" / "filing_tables.jsonl"


def plain_pdf(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """The baseline loader: pypdf's plain text per page, joined; no pages kept."""
    from pypdf import PdfReader

    reader = PdfReader(str(file.path))
    if reader.is_encrypted:
        reader.decrypt("")
    pages = [page.extract_text() or "" for page in reader.pages]
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    metadata = {"format": "pdf", "pages": len(pages)}
    return [Document(file.rel, text, file.path.stem, str(file.path), metadata)]


def _value_in(text: str, value: str) -> bool:
    """`value` in `text` as a whole number ("1,391" not inside "11,391" or "1,391.5")."""
    pattern = rf"(?<![\d,.]){re.escape(value)}(?![\d]|[.,]\d)"
    return re.search(pattern, " ".join(text.split())) is not None


def _pages_of(doc_pages: list[str], row: QARow) -> set[int]:
    """Pages of the filing (whitespace made single spaces) whose text holds the value."""
    return {n for n, text in enumerate(doc_pages, 1) if _value_in(text, row.answers[0])}


def _page_of(source: Source, doc_pages: list[str]) -> int | None:
    """The source's page: stored (after), or where its opening words are (before)."""
    if source.page is not None:
        return source.page
    opening = " ".join(source.text.split())[:60]
    for n, text in enumerate(doc_pages, 1):
        if opening and opening in text:
            return n
    return None


def run(
    loader: str,
    files: Path,
    rows: list[QARow],
    pages: dict[str, list[str]],
    encrypted: set[str],
    args: Any,
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-filings-{loader}-"))
    try:
        settings = Settings(data_dir=work / "data")
        embedder = SentenceTransformerEmbedder.from_settings(settings)
        register_loader(".pdf", plain_pdf if loader == "before" else load_pdf)
        started = time.perf_counter()
        report = ingest_paths([files], "filings", settings=settings, embedder=embedder)
        seconds = time.perf_counter() - started
        per_row = []
        with Pipeline(settings, embedder=embedder) as qa:
            for row in rows:
                top = qa.retrieve(row.question, domain="filings", top_k=args.top_k)
                mine = [s for s in top if s.doc_id == row.doc_id]
                doc_pages = pages[str(row.doc_id)]
                gold_pages = _pages_of(doc_pages, row)
                per_row.append(
                    {
                        "id": row.id,
                        "document": bool(mine),
                        "page": any(_page_of(s, doc_pages) in gold_pages for s in mine),
                        "value": any(_value_in(s.text, row.answers[0]) for s in mine),
                        "refused_before": loader == "before" and row.doc_id in encrypted,
                        "top_pages": [[s.doc_id, s.page] for s in top],
                    }
                )
        return {
            "loader": loader,
            "chunks": report.chunks_total,
            "ingest_seconds": round(seconds, 1),
            "rows": per_row,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(per_row: list[dict[str, Any]], *, as_shipped: bool = False) -> dict[str, Any]:
    out = {}
    for key in ("document", "page", "value"):
        values = [float(r[key] and not (as_shipped and r["refused_before"])) for r in per_row]
        low, high = bootstrap_ci(values)
        out[key] = {"mean": sum(values) / len(values), "ci95": [low, high]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=Path, default=FILINGS)
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    rows = read_qa(QUESTIONS)
    from pypdf import PdfReader

    pages: dict[str, list[str]] = {}  # each filing's pages, whitespace made single spaces
    encrypted: set[str] = set()  # the filings adaptrag refused before
    for path in sorted(args.filings.glob("*.pdf")):
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            encrypted.add(path.name)
            reader.decrypt("")
        pages[path.name] = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
    for row in rows:
        assert row.page in _pages_of(pages[str(row.doc_id)], row), (row.id, row.page)
    runs = [
        run(loader, args.filings, rows, pages, encrypted, args) for loader in ("before", "after")
    ]
    results: dict[str, Any] = {"top_k": args.top_k, "questions": len(rows), "runs": runs}
    lines = [
        f"| loader | document hit@{args.top_k} | page hit@{args.top_k} | "
        f"value found@{args.top_k} | chunks | ingest s |",
        "|---|---|---|---|---|---|",
    ]
    labelled = [
        ("before, as shipped (5 filings refused)", runs[0], True),
        ("before (plain text, decrypted)", runs[0], False),
        ("after (layout, pages)", runs[1], False),
    ]
    for label, result, shipped in labelled:
        cells = summary(result["rows"], as_shipped=shipped)
        result.setdefault("summary", {})["as_shipped" if shipped else "decrypted"] = cells
        lines.append(
            f"| {label} | "
            + " | ".join(
                f"{cells[k]['mean']:.2f} [{cells[k]['ci95'][0]:.2f}, {cells[k]['ci95'][1]:.2f}]"
                for k in ("document", "page", "value")
            )
            + f" | {result['chunks']} | {result['ingest_seconds']} |"
        )
    print("\n".join(lines))
    write_results("filings", results)


if __name__ == "__main__":
    main()
