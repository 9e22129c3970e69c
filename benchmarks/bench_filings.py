"""Real 10-K PDFs as filed: how fast each loader reads them, and do analysts' questions find
the page that answers them?

    python benchmarks/bench_filings.py [--filings ../shared/data/filings] [--top-k 5]
        [--loaders before,after] [--keep DIR] [--analyst FILE.jsonl]

Two loaders, in the same run, over the 7 filings in `../shared/data/filings`:
- before: adaptrag's loader until now, pypdf's layout mode page by page (a table row's
  label and figures on one line, cells joined by " | "), kept here as it shipped.
- after: adaptrag's loader now, PDFium (`pypdfium2`) laid out from its character boxes
  (`adaptrag/ingest/pdf.py`): the same row layout, and each cell's box kept.

Per loader: pages a second parsing the filings alone (the same files, one process), then
an ingest of what it read into a fresh embedded store (one domain, default settings), and
two question sets asked of all 7 filings (`Pipeline.retrieve`, hybrid, top 5):
- `benchmarks/data/filing_tables.jsonl`: 28 questions about table values, written while
  reading the tables (document hit, page hit: a page holding the value, value found).
- `../shared/data/filing_analyst_dev.jsonl`: 42 questions as financial analysts ask them
  (metrics from statements, concepts asked of any company, specific facts), each with
  the page(s) holding its evidence; page hit@k per kind (a top-k source of the filing
  spanning one of those pages).
`--keep DIR` keeps each loader's store under DIR and reuses it when it is there (for trying
query-side ideas without re-ingesting). Writes benchmarks/results/filings.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.eval.datasets import read_qa
from adaptrag.eval.stats import bootstrap_ci
from adaptrag.ingest import ingest_paths
from adaptrag.ingest.loaders import (
    LoaderOptions,
    PageText,
    SourceFile,
    load_pdf,
    paged,
    register_loader,
)
from adaptrag.rag import Pipeline
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Document, QARow, Source

HERE = Path(__file__).resolve().parent
FILINGS = HERE.parents[1] / "shared" / "data" / "filings"
TABLES = HERE / "data" / "filing_tables.jsonl"
ANALYST = HERE.parents[1] / "shared" / "data" / "filing_analyst_dev.jsonl"

_GAP = re.compile(r"\s{3,}")
_CELL_VALUE = re.compile(r"^[$\u20ac\u00a3(\-\u2014\u2013]?\s*[\d.,]+|^\(?\d|^[\u2014\u2013-]$|%$")
_STUCK = re.compile(r"([$\u20ac\u00a3(])\s+(?=[\d.])")


def pypdf_layout_page(page: Any) -> str:
    """A page as adaptrag read it until now: pypdf's layout mode, rows joined by " | "."""
    try:
        text = page.extract_text(extraction_mode="layout")
    except Exception:  # noqa: BLE001 - as shipped: plain mode where layout mode fails
        text = ""
    if len("".join(str(text or "").split())) < 20:
        text = page.extract_text()
    lines = []
    for line in str(text or "").splitlines():
        cells = [c.strip() for c in _GAP.split(_STUCK.sub(r"\1", line.strip())) if c.strip()]
        if len(cells) > 1 and any(_CELL_VALUE.search(c) for c in cells[1:]):
            lines.append(" | ".join(cells))
        else:
            lines.append(" ".join(" ".join(cells).split()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def pypdf_layout(file: SourceFile, options: LoaderOptions) -> list[Document]:
    """The loader before: pypdf's layout mode page by page, no positions."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(str(file.path))
    if reader.is_encrypted:
        reader.decrypt("")
    pages = [PageText(pypdf_layout_page(page)) for page in reader.pages]
    title = reader.metadata.get("/Title") if reader.metadata else None
    return paged(file, pages, str(title) if title else None, "pdf")


LOADERS: dict[str, Callable[[SourceFile, LoaderOptions], list[Document]]] = {
    "before": pypdf_layout,
    "after": load_pdf,
}


def parse_all(files: list[Path], loader: str) -> tuple[dict[str, Document], dict[str, Any]]:
    """Every filing read by `loader`, timed."""
    read = LOADERS[loader]
    documents: dict[str, Document] = {}
    started = time.perf_counter()
    for path in files:
        [document] = read(SourceFile(path, path.parent, path.name), LoaderOptions())
        documents[path.name] = document
    seconds = time.perf_counter() - started
    pages = sum(int(d.metadata["pages"]) for d in documents.values())
    boxes = sum(len(d.boxes) for d in documents.values())
    parse = {
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_second": round(pages / seconds, 1),
        "boxes": boxes,
    }
    return documents, parse


def _value_in(text: str, value: str) -> bool:
    """`value` in `text` as a whole number ("1,391" not inside "11,391" or "1,391.5")."""
    pattern = rf"(?<![\d,.]){re.escape(value)}(?![\d]|[.,]\d)"
    return re.search(pattern, " ".join(text.split())) is not None


def _table_row(row: QARow, top: list[Source], pages: dict[str, list[str]]) -> dict[str, Any]:
    mine = [s for s in top if s.doc_id == row.doc_id]
    gold = {
        n for n, text in enumerate(pages[str(row.doc_id)], 1) if _value_in(text, row.answers[0])
    }
    return {
        "id": row.id,
        "kind": "table value",
        "document": bool(mine),
        "page": any(set(s.pages) & gold for s in mine),
        "value": any(_value_in(s.text, row.answers[0]) for s in mine),
        "top_pages": [[s.doc_id, s.pages] for s in top],
    }


def _analyst_row(row: dict[str, Any], top: list[Source]) -> dict[str, Any]:
    mine = [s for s in top if s.doc_id == row["doc_id"]]
    gold = set(row["pages"])
    return {
        "id": row["id"],
        "kind": row["kind"],
        "document": bool(mine),
        "page": any(set(s.pages) & gold for s in mine),
        "top_pages": [[s.doc_id, s.pages] for s in top],
    }


def evaluate(
    data_dir: Path, embedder: Any, args: Any, pages: dict[str, list[str]]
) -> dict[str, list[dict[str, Any]]]:
    tables = read_qa(TABLES)
    lines = args.analyst.read_text().splitlines()
    analyst = [json.loads(line) for line in lines if line.strip()]
    settings = Settings(data_dir=data_dir)
    out: dict[str, list[dict[str, Any]]] = {"tables": [], "analyst": []}
    with Pipeline(settings, embedder=embedder) as qa:
        for row in tables:
            top = qa.retrieve(row.question, domain="filings", top_k=args.top_k)
            out["tables"].append(_table_row(row, top, pages))
        for item in analyst:
            top = qa.retrieve(item["question"], domain="filings", top_k=args.top_k)
            out["analyst"].append(_analyst_row(item, top))
    return out


def run(loader: str, files: list[Path], pages: dict[str, list[str]], args: Any) -> dict[str, Any]:
    documents, parse = parse_all(files, loader)
    print(f"{loader}: parsed {parse['pages']} pages in {parse['seconds']} s", flush=True)
    keep = args.keep / loader if args.keep else None
    work = keep or Path(tempfile.mkdtemp(prefix=f"bench-filings-{loader}-"))
    embedder = SentenceTransformerEmbedder.from_settings(Settings(data_dir=work / "data"))
    ingest: dict[str, Any] = {"reused": True}
    try:
        if not (keep and (keep / "data").exists()):
            register_loader(".pdf", lambda file, _options: [documents[file.rel]])
            started = time.perf_counter()
            report = ingest_paths(
                [args.filings],
                "filings",
                settings=Settings(data_dir=work / "data"),
                embedder=embedder,
            )
            ingest = {
                "chunks": report.chunks_total,
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(f"{loader}: ingested {ingest}", flush=True)
        rows = evaluate(work / "data", embedder, args, pages)
    finally:
        register_loader(".pdf", load_pdf)
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return {"loader": loader, "parse": parse, "ingest": ingest, "rows": rows}


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    values = [float(r[key]) for r in rows]
    low, high = bootstrap_ci(values)
    return {"mean": sum(values) / len(values), "ci95": [low, high], "n": len(values)}


def _cell(cells: dict[str, Any]) -> str:
    return f"{cells['mean']:.2f} [{cells['ci95'][0]:.2f}, {cells['ci95'][1]:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=Path, default=FILINGS)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--loaders", default="before,after")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--analyst", type=Path, default=ANALYST, help="analyst questions")
    args = parser.parse_args()
    import pypdfium2 as pdfium

    files = sorted(args.filings.glob("*.pdf"))
    pages: dict[str, list[str]] = {}  # each filing's plain text a page, for the value check
    for path in files:
        pdf = pdfium.PdfDocument(str(path))
        pages[path.name] = [" ".join(page.get_textpage().get_text_range().split()) for page in pdf]
    runs = [run(loader, files, pages, args) for loader in args.loaders.split(",")]
    k = args.top_k
    lines = [
        f"| loader | pages/s | parse s | chunks | ingest s | table page hit@{k} | "
        f"analyst page hit@{k} | metrics | domain-relevant | novel |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in runs:
        analyst = result["rows"]["analyst"]
        cells = {
            "tables": summary(result["rows"]["tables"], "page"),
            "analyst": summary(analyst, "page"),
            **{
                kind: summary([r for r in analyst if r["kind"] == kind], "page")
                for kind in ("metrics-generated", "domain-relevant", "novel-generated")
            },
        }
        result["summary"] = cells
        parse, ingest = result["parse"], result["ingest"]
        lines.append(
            f"| {result['loader']} | {parse['pages_per_second']} | {parse['seconds']} | "
            f"{ingest.get('chunks', '-')} | {ingest.get('seconds', '-')} | "
            + " | ".join(_cell(c) for c in cells.values())
            + " |"
        )
    if len(runs) == 2:
        ratio = runs[1]["parse"]["pages_per_second"] / runs[0]["parse"]["pages_per_second"]
        lines.append(f"\nparse speed, {runs[1]['loader']} / {runs[0]['loader']}: {ratio:.1f}x")
    print("\n".join(lines))
    write_results("filings", {"top_k": k, "runs": runs})


if __name__ == "__main__":
    main()
