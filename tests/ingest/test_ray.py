"""Ingestion on Ray gives the store the single-process job gives: same points, same vectors.

A local Ray with 2 CPUs is started by the test (slow: Ray's start takes seconds)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.corpora import write_corpus
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest import ingest_paths
from adaptrag.ingest.distributed import RayOptions
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import store_for

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def points(settings: Settings, collection: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
    """Every point of a collection: id -> (dense vector, payload without the ingest time)."""
    store: Any = store_for(settings, collection)
    found: dict[str, tuple[list[float], dict[str, Any]]] = {}
    offset = None
    while True:
        records, offset = store.client.scroll(
            store.name, limit=256, offset=offset, with_vectors=True, with_payload=True
        )
        for record in records:
            payload = {k: v for k, v in record.payload.items() if k != "ingested_at"}
            found[str(record.id)] = (record.vector["dense"], payload)
        if offset is None:
            return found


def test_ray_ingest_equals_the_single_process_ingest(
    ray_cluster: None, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    shutil.copytree(SAMPLE, corpus / "sample")
    settings = Settings(data_dir=tmp_path / "data", qdrant_url=":memory:")
    ray = RayOptions(actors=2, documents_per_batch=2)

    single = ingest_paths(
        [corpus], "legal", settings=settings, collection="single", embedder=embedder
    )
    distributed = ingest_paths(
        [corpus], "legal", settings=settings, collection="ray", embedder=embedder, ray=ray
    )
    for field in ("added", "updated", "unchanged", "deleted", "chunks_embedded", "chunks_total"):
        assert getattr(distributed, field) == getattr(single, field), field
    assert distributed.failed == single.failed and distributed.skipped == single.skipped
    assert single.added >= 8 and single.chunks_embedded > 10

    one, other = points(settings, "single"), points(settings, "ray")
    assert sorted(one) == sorted(other)
    for point_id, (vector, payload) in one.items():
        assert other[point_id][1] == payload
        assert np.allclose(other[point_id][0], vector, atol=1e-5), point_id

    # Idempotent and incremental, as without Ray: nothing to embed, then one changed file.
    again = ingest_paths(
        [corpus], "legal", settings=settings, collection="ray", embedder=embedder, ray=ray
    )
    assert again.unchanged == single.added and again.chunks_embedded == 0
    lease = corpus / "lease.md"
    lease.write_text(lease.read_text() + "\n## Keys\n\nThe tenant returns all keys.\n")
    changed = ingest_paths(
        [corpus],
        "legal",
        settings=settings,
        collection="ray",
        embedder=embedder,
        ray=ray,
        sync=True,
    )
    reference = ingest_paths(
        [corpus], "legal", settings=settings, collection="single", embedder=embedder, sync=True
    )
    assert changed.updated == reference.updated == 1
    assert sorted(points(settings, "ray")) == sorted(points(settings, "single"))


def test_the_command_line_ingests_on_ray(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    monkeypatch.setenv("ADAPTRAG_QDRANT_URL", ":memory:")
    args = ["ingest", str(corpus), "--domain", "legal", "--json"]
    plain = CliRunner().invoke(app, [*args, "--collection", "plain"])
    on_ray = CliRunner().invoke(app, [*args, "--collection", "cli", "--ray", "--ray-actors", "1"])
    assert plain.exit_code == on_ray.exit_code == 0, on_ray.output
    one, other = json.loads(plain.stdout), json.loads(on_ray.stdout)
    for report in (one, other):
        del report["seconds"], report["collection"]
    assert one == other and one["chunks_embedded"] > 0
    settings = Settings(data_dir=tmp_path / "data", qdrant_url=":memory:")
    assert sorted(points(settings, "cli")) == sorted(points(settings, "plain"))
