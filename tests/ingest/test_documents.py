"""The document lifecycle: list, read back and delete one document, from Python and the CLI,
and a delete killed at any moment leaves the whole document or none of it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.documents import table_pdf
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest import (
    DocumentNotFoundError,
    delete_document,
    get_document,
    ingest_paths,
    list_documents,
)
from adaptrag.rag import Pipeline
from adaptrag.rag.settings import Settings


@pytest.fixture
def ingested(corpus: Path, settings: Settings, embedder) -> Path:
    table_pdf(corpus / "report.pdf")
    report = ingest_paths([corpus], "legal", settings=settings, embedder=embedder)
    assert report.added == 6 and not report.failed
    return corpus


def test_list_get_and_delete_one_document(ingested: Path, settings: Settings, embedder) -> None:
    listed = {i.doc_id: i for i in list_documents("legal", settings=settings)}
    assert set(listed) == {"lease.md", "nda.txt", "policies/travel.html", "r1", "r2", "report.pdf"}
    pdf = listed["report.pdf"]
    assert (pdf.pages, pdf.format, pdf.complete) == (2, "pdf", True)
    assert pdf.chunks == 2 and pdf.characters > 50 and pdf.ingested_at.startswith("20")
    assert listed["lease.md"].pages is None
    stored = get_document("legal", "report.pdf", settings=settings)
    assert [page for page, _ in stored.chunks] == [1, 2]
    assert "Revenue | $1,200 | $1,100" in stored.text

    with Pipeline(settings, embedder=embedder) as qa:
        [hit] = qa.retrieve("Revenue in 2025", domain="legal", filters={"page": {"gte": 2}})
        assert (hit.doc_id, hit.page, hit.label) == ("report.pdf", 2, "report.pdf p. 2")
        assert delete_document("legal", "report.pdf", settings=settings) == 2
        assert all(s.doc_id != "report.pdf" for s in qa.retrieve("Revenue", top_k=20))
    assert "report.pdf" not in {i.doc_id for i in list_documents("legal", settings=settings)}
    with pytest.raises(
        DocumentNotFoundError, match=r"'lease' in domain 'legal'; did you mean lease\.md"
    ):
        get_document("legal", "lease", settings=settings)
    with pytest.raises(DocumentNotFoundError, match="list them with `adaptrag documents list"):
        get_document("legal", "report.pdf", settings=settings)
    with pytest.raises(DocumentNotFoundError, match=r"no document 'lease\.md' in domain 'finance'"):
        delete_document("finance", "lease.md", settings=settings)

    again = ingest_paths([ingested], "legal", settings=settings, embedder=embedder)
    assert (again.added, again.unchanged, again.chunks_embedded) == (1, 5, 2)  # only it
    third = ingest_paths([ingested], "legal", settings=settings, embedder=embedder)
    assert (third.unchanged, third.chunks_embedded) == (6, 0)  # a PDF reads the same each time


def test_the_cli_lists_shows_and_deletes(ingested: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["documents", "list", "--domain", "legal"])
    assert listed.exit_code == 0 and "report.pdf\t2 chunks\t2 pages" in listed.stdout
    shown = runner.invoke(app, ["documents", "show", "report.pdf", "-d", "legal", "--json"])
    assert [c["page"] for c in json.loads(shown.stdout)["chunk_texts"]] == [1, 2]
    refused = runner.invoke(app, ["documents", "delete", "report.pdf", "-d", "legal", "--json"])
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    deleted = runner.invoke(app, ["documents", "delete", "report.pdf", "-d", "legal", "--yes"])
    assert deleted.exit_code == 0 and "deleted report.pdf (2 chunks) from legal" in deleted.stdout
    missing = runner.invoke(app, ["documents", "show", "report.pdf", "-d", "legal"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no document 'report.pdf' in domain 'legal'")
    assert missing.stderr.count("\n") == 1


_DELETER = textwrap.dedent(
    """
    import sys, uuid
    from pathlib import Path
    import numpy as np
    from adaptrag.rag.stores import CollectionSpec, StoredChunk, Where
    from adaptrag.rag.stores.edge import EdgeStore
    from adaptrag.rag.types import SparseVector

    data, n, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    store = EdgeStore(data, "docs")
    where = {"domain": "legal", "doc_id": "big.pdf"}
    if mode == "fill":
        store.create(CollectionSpec(embedding_model="test/model", dimension=8))
        rng = np.random.default_rng(0)
        for doc_id in ("big.pdf", "other.pdf"):
            payload = {"domain": "legal", "doc_id": doc_id, "chunk_count": n, "text": "x" * 300}
            for start in range(0, n, 2000):
                store.upsert([
                    StoredChunk(str(uuid.uuid4()), rng.normal(size=8).tolist(),
                                SparseVector([1], [1.0]), {**payload, "chunk_index": i})
                    for i in range(start, min(n, start + 2000))
                ])
    elif mode == "delete":
        print("deleting", flush=True)
        store.delete(Where(equals=where))
        print("deleted", flush=True)
    else:
        print(store.count(Where(equals=where)), store.count(Where(equals={"doc_id": "other.pdf"})))
    store.close()
    """
)


def test_a_delete_killed_at_any_moment_leaves_all_or_nothing(tmp_path: Path) -> None:
    script = tmp_path / "deleter.py"
    script.write_text(_DELETER)
    chunks = 20_000

    def run(data: Path, mode: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(data), str(chunks), mode],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return done.stdout

    outcomes = set()
    for trial, delay in enumerate((0.0, 0.002, 0.01, 0.03, 0.1)):
        data = tmp_path / f"data{trial}"
        run(data, "fill")
        with subprocess.Popen(
            [sys.executable, str(script), str(data), str(chunks), "delete"],
            stdout=subprocess.PIPE,
            text=True,
        ) as deleter:
            assert deleter.stdout is not None
            assert deleter.stdout.readline().strip() == "deleting"
            time.sleep(delay)
            deleter.kill()  # SIGKILL: no cleanup, no flush
            deleter.wait()
        left, other = map(int, run(data, "count").split())
        assert other == chunks  # the other document is untouched
        assert left in (0, chunks), f"a killed delete left {left} of {chunks} chunks"
        outcomes.add(left)
    assert outcomes  # each trial ended whole or empty; which one depends on the timing
