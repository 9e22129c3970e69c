"""The ingestion job end to end: real MiniLM, real Qdrant Edge (and the server backend)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from adaptrag.ingest import ingest_paths
from adaptrag.rag.errors import ConfigError, EmbeddingMismatchError
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import StoredChunk, VectorStore, Where, open_store
from adaptrag.rag.stores.edge import EdgeStore


def _ingest(
    settings: Settings, embedder: SentenceTransformerEmbedder, paths: Sequence[Path], **kwargs
):
    return ingest_paths(
        paths, kwargs.pop("domain", "legal"), settings=settings, embedder=embedder, **kwargs
    )


def _stored(settings: Settings, domain: str | None = None) -> list[dict]:
    store = EdgeStore(settings.data_dir, settings.store.collection)
    try:
        where = Where(equals={"domain": domain}) if domain else None
        return list(
            store.scroll(
                where, ["doc_id", "chunk_index", "chunk_count", "content_hash", "text", "domain"]
            )
        )
    finally:
        store.close()


def _assert_exact(payloads: list[dict]) -> None:
    """Every stored document has exactly one version, all its chunks, no duplicates."""
    keys = Counter((p["doc_id"], p["chunk_index"]) for p in payloads)
    assert all(n == 1 for n in keys.values()), "duplicate chunks"
    by_doc: dict[str, list[dict]] = {}
    for p in payloads:
        by_doc.setdefault(p["doc_id"], []).append(p)
    for doc_id, chunks in by_doc.items():
        assert len({c["content_hash"] for c in chunks}) == 1, f"{doc_id} has two versions"
        assert sorted(c["chunk_index"] for c in chunks) == list(range(chunks[0]["chunk_count"]))


def test_first_ingest_stores_every_document_with_its_payload(
    settings, embedder, corpus: Path
) -> None:
    report = _ingest(settings, embedder, [corpus])
    assert (report.added, report.updated, report.unchanged, report.failed) == (5, 0, 0, [])
    assert report.chunks_embedded == report.chunks_total >= 5
    store = EdgeStore(settings.data_dir, settings.store.collection)
    payload = next(store.scroll(Where(equals={"doc_id": "lease.md"}), []))  # [] = no fields
    assert payload == {}
    [full] = [
        p
        for p in store.scroll(
            Where(equals={"doc_id": "policies/travel.html"}),
            [
                "doc_id",
                "chunk_id",
                "chunk_index",
                "domain",
                "source",
                "title",
                "text",
                "content_hash",
                "ingested_at",
                "format",
            ],
        )
    ]
    store.close()
    assert (
        full["domain"] == "legal" and full["title"] == "Travel policy" and full["chunk_index"] == 0
    )
    assert (
        full["source"] == str(corpus / "policies" / "travel.html") and full["format"] == "markdown"
    )
    assert (
        "Economy class" in full["text"] and len(full["content_hash"]) == 64 and full["ingested_at"]
    )
    _assert_exact(_stored(settings))


def test_reingest_of_unchanged_documents_embeds_nothing(settings, embedder, corpus: Path) -> None:
    first = _ingest(settings, embedder, [corpus])
    before = _stored(settings)
    untouched = SentenceTransformerEmbedder()  # fresh and unloaded: it must stay unloaded
    again = _ingest(settings, untouched, [corpus])
    assert (again.added, again.updated, again.unchanged, again.chunks_embedded) == (0, 0, 5, 0)
    assert again.chunks_total == first.chunks_total
    assert untouched._model is None, "the model was loaded although nothing changed"
    assert sorted(map(str, before)) == sorted(map(str, _stored(settings)))


def test_a_changed_document_is_replaced_and_its_old_chunks_are_gone(
    settings, embedder, corpus: Path
) -> None:
    _ingest(settings, embedder, [corpus])
    (corpus / "nda.txt").write_text("Confidentiality now lasts seven years.\n")
    report = _ingest(settings, embedder, [corpus])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4)
    nda = [p for p in _stored(settings) if p["doc_id"] == "nda.txt"]
    assert [p["text"] for p in nda] == ["Confidentiality now lasts seven years."]
    _assert_exact(_stored(settings))


class _RecordingStore:
    """The real Edge store, with a log of the writes made through it."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.log: list[tuple[str, Any]] = []

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        self.log.append(("upsert", {c.payload["doc_id"] for c in chunks}))
        self.inner.upsert(chunks)

    def delete(self, where: Where) -> None:
        self.log.append(("delete", where.equals.get("doc_id")))
        self.inner.delete(where)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_new_chunks_are_stored_before_the_old_ones_are_deleted(
    settings, embedder, corpus: Path
) -> None:
    _ingest(settings, embedder, [corpus])
    (corpus / "lease.md").write_text("# Lease\n\nNotice is now sixty days.\n")
    recording = _RecordingStore(open_store(settings.store.collection, data_dir=settings.data_dir))
    _ingest(settings, embedder, [corpus], store=recording)
    recording.inner.close()
    upsert_at = next(
        i for i, (op, ids) in enumerate(recording.log) if op == "upsert" and "lease.md" in ids
    )
    delete_at = next(
        i for i, (op, ids) in enumerate(recording.log) if op == "delete" and ids == "lease.md"
    )
    assert upsert_at < delete_at


def test_sync_deletes_removed_documents_of_that_domain_and_root_only(
    settings, embedder, corpus: Path, tmp_path: Path
) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "memo.txt").write_text("A memo in another folder.")
    _ingest(settings, embedder, [corpus])
    _ingest(settings, embedder, [other_root])
    _ingest(settings, embedder, [corpus], domain="finance")
    (corpus / "nda.txt").unlink()
    without_sync = _ingest(settings, embedder, [corpus])
    assert without_sync.deleted == 0 and any(
        p["doc_id"] == "nda.txt" for p in _stored(settings, "legal")
    )
    report = _ingest(settings, embedder, [corpus], sync=True)
    assert report.deleted == 1
    legal = {p["doc_id"] for p in _stored(settings, "legal")}
    assert "nda.txt" not in legal and "memo.txt" in legal  # the other root is untouched
    assert "nda.txt" in {
        p["doc_id"] for p in _stored(settings, "finance")
    }  # so is the other domain


def test_a_failed_file_is_reported_the_rest_stored_and_sync_keeps_its_documents(
    settings, embedder, corpus: Path
) -> None:
    _ingest(settings, embedder, [corpus])
    (corpus / "records.jsonl").write_text('{"doc_id": "r1", "text": "ok"}\n{broken\n')
    (corpus / "new.txt").write_text("A brand new document.")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    report = _ingest(settings, embedder, [corpus], sync=True)
    assert [Path(f.path).name for f in report.failed] == ["records.jsonl"]
    assert "line 2" in report.failed[0].reason
    assert [Path(s.path).name for s in report.skipped] == ["image.png"]
    assert report.added == 1 and report.deleted == 0
    assert {"r1", "r2", "new.txt"} <= {p["doc_id"] for p in _stored(settings)}


def test_dry_run_plans_and_stores_nothing(settings, embedder, corpus: Path) -> None:
    dry = _ingest(settings, embedder, [corpus], dry_run=True)
    assert dry.added == 5 and dry.chunks_embedded == 0
    assert sorted(step["doc_id"] for step in dry.plan) == [
        "lease.md",
        "nda.txt",
        "policies/travel.html",
        "r1",
        "r2",
    ]
    assert not (settings.data_dir / "qdrant" / settings.store.collection).exists()
    _ingest(settings, embedder, [corpus])
    (corpus / "nda.txt").unlink()
    (corpus / "lease.md").write_text("# Lease\n\nChanged.\n")
    plan = {
        s["doc_id"]: s["action"]
        for s in _ingest(settings, embedder, [corpus], dry_run=True, sync=True).plan
    }
    assert plan == {
        "lease.md": "update",
        "policies/travel.html": "unchanged",
        "r1": "unchanged",
        "r2": "unchanged",
        "nda.txt": "delete",
    }
    assert any(p["doc_id"] == "nda.txt" for p in _stored(settings))


def test_duplicate_doc_ids_in_one_run_are_reported(settings, embedder, tmp_path: Path) -> None:
    root = tmp_path / "dups"
    root.mkdir()
    (root / "a.jsonl").write_text('{"doc_id": "same", "text": "first"}\n')
    (root / "b.jsonl").write_text('{"doc_id": "same", "text": "second"}\n')
    report = _ingest(settings, embedder, [root])
    assert report.added == 1 and "duplicate doc_id 'same'" in report.failed[0].reason


def test_ingest_with_another_embedding_model_is_refused_before_loading_it(
    settings, embedder, corpus: Path
) -> None:
    _ingest(settings, embedder, [corpus])
    other = settings.replaced(**{"embedding_model": "intfloat/e5-small-v2"})
    stranger = SentenceTransformerEmbedder("intfloat/e5-small-v2")
    with pytest.raises(
        EmbeddingMismatchError, match=r"all-MiniLM-L6-v2.*e5-small-v2.*collections drop"
    ):
        ingest_paths([corpus], "legal", settings=other, embedder=stranger)
    assert stranger._model is None


def test_invalid_domain_is_a_config_error(settings, embedder, corpus: Path) -> None:
    with pytest.raises(ConfigError, match="invalid domain"):
        _ingest(settings, embedder, [corpus], domain="legal team")


def test_the_server_backend_runs_the_same_job(settings, embedder, corpus: Path) -> None:
    server = settings.replaced(**{"qdrant_url": ":memory:", "collection": "server-job"})
    first = ingest_paths([corpus], "legal", settings=server, embedder=embedder)
    again = ingest_paths([corpus], "legal", settings=server, embedder=embedder)
    assert (first.added, again.unchanged, again.chunks_embedded) == (5, 5, 0)
    store = open_store("server-job", data_dir=settings.data_dir, qdrant_url=":memory:")
    assert store.count() == first.chunks_total
    store.drop()


@pytest.mark.parametrize(
    "change_first",
    [False, pytest.param(True, marks=pytest.mark.slow)],
    ids=["first-ingest", "update"],
)
def test_a_run_killed_midway_and_run_again_ends_with_exactly_the_right_chunks(
    settings, embedder, tmp_path: Path, change_first: bool
) -> None:
    root = tmp_path / "many"
    root.mkdir()
    paragraph = (
        "Section {i}.{j}: the parties agree that clause {j} of schedule {i} applies in full. "
    )
    for i in range(40):
        (root / f"doc{i:02d}.txt").write_text(
            "".join(paragraph.format(i=i, j=j) for j in range(30))
        )
    if change_first:
        _ingest(settings, embedder, [root])
        for path in root.iterdir():
            path.write_text(path.read_text().replace("in full", "in part"))
    env = {
        **os.environ,
        "ADAPTRAG_DATA_DIR": str(settings.data_dir),
        "ADAPTRAG_EMBEDDING_BATCH_SIZE": "8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adaptrag.cli", "-v", "ingest", str(root), "--domain", "legal"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert process.stderr is not None
    # Wait until some batches are stored, however long a busy machine takes to get there
    # (the loop also ends if the process ends), then kill -9.
    for line in process.stderr:
        if re.search(r": stored \d+ chunks", line):  # the log line of a stored batch
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    partial = _stored(settings)
    report = _ingest(settings, embedder, [root])
    assert not report.failed
    payloads = _stored(settings)
    _assert_exact(payloads)
    assert {p["doc_id"] for p in payloads} == {f"doc{i:02d}.txt" for i in range(40)}
    assert len(payloads) == report.chunks_total
    if change_first:
        assert not any("in full" in p["text"] for p in payloads)
    else:
        assert 0 < len(partial) < len(payloads), "the kill did not land midway"
