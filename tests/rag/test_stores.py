"""One contract for every VectorStore backend: Qdrant Edge and qdrant-client (in-process)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adaptrag.rag.errors import ConfigError, EmbeddingMismatchError, StoreBusyError, StoreError
from adaptrag.rag.retrieval.filters import Filters, where_of
from adaptrag.rag.retrieval.sparse import SparseEncoder
from adaptrag.rag.stores import (
    CollectionSpec,
    SearchRequest,
    StoredChunk,
    Where,
    ensure_collection,
    open_store,
)
from adaptrag.rag.stores.edge import EdgeStore
from adaptrag.rag.stores.server import ServerStore

DIM = 8
SPEC = CollectionSpec(
    embedding_model="test/model", dimension=DIM, sparse=SparseEncoder().config.as_dict()
)
SPARSE = SparseEncoder()
TEXTS = {
    ("legal", "lease"): "The tenant gives ninety days notice",
    ("legal", "nda"): "Confidential information stays secret for four years",
    ("finance", "treasury"): "Cash buffer of twenty five million pounds",
    ("finance", "hedging"): "Currency purchases are hedged with forwards",
}


def _vector(seed: int) -> list[float]:
    v = np.random.default_rng(seed).normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def _chunks(version: str = "v1") -> list[StoredChunk]:
    out = []
    for seed, ((domain, doc_id), text) in enumerate(TEXTS.items()):
        out.append(
            StoredChunk(
                chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{domain}/{doc_id}/{version}")),
                dense=_vector(seed),
                sparse=SPARSE.encode_passage(text),
                payload={"domain": domain, "doc_id": doc_id, "text": text, "content_hash": version},
            )
        )
    return out


class StoreContract:
    """Assertions every backend must pass, error types included."""

    @pytest.fixture
    def store(self) -> Iterator[object]:
        raise NotImplementedError

    def test_a_new_collection_has_no_spec_until_created(self, store) -> None:
        assert store.spec() is None
        store.create(SPEC)
        assert store.spec() == SPEC

    def test_upsert_is_idempotent_by_chunk_id(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        store.upsert(_chunks())
        assert store.count() == len(TEXTS)

    def test_count_and_facet_follow_the_filter(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        assert store.count(Where(equals={"domain": "legal"})) == 2
        assert store.facet("domain") == {"legal": 2, "finance": 2}
        assert store.facet("doc_id", Where(equals={"domain": "finance"})) == {
            "treasury": 1,
            "hedging": 1,
        }

    def test_delete_by_filter_keeps_the_other_versions(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks("v1") + _chunks("v2"))
        store.delete(
            Where(equals={"domain": "legal", "doc_id": "lease"}, not_equals={"content_hash": "v2"})
        )
        left = sorted(
            (p["doc_id"], p["content_hash"])
            for p in store.scroll(Where(equals={"domain": "legal"}), ["doc_id", "content_hash"])
        )
        assert left == [("lease", "v2"), ("nda", "v1"), ("nda", "v2")]

    def test_delete_with_an_empty_filter_is_refused(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        with pytest.raises(StoreError, match="empty filter"):
            store.delete(Where())
        assert store.count() == len(TEXTS)

    def test_scroll_returns_only_the_asked_fields_of_every_point(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        payloads = list(store.scroll(None, ["doc_id"]))
        assert sorted(p["doc_id"] for p in payloads) == sorted(d for _, d in TEXTS)
        assert all(set(p) == {"doc_id"} for p in payloads)

    def test_dense_search_ranks_the_nearest_vector_first(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        hits = store.search(SearchRequest(dense=_vector(2), mode="dense", limit=2))
        assert hits[0].doc_id == "treasury"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert hits[0].metadata["domain"] == "finance" and "text" not in hits[0].metadata

    def test_sparse_search_matches_rare_terms(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        hits = store.search(
            SearchRequest(sparse=SPARSE.encode_query("hedged forwards"), mode="sparse", limit=1)
        )
        assert [h.doc_id for h in hits] == ["hedging"]

    def test_hybrid_search_fuses_dense_and_sparse(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        request = SearchRequest(
            dense=_vector(0), sparse=SPARSE.encode_query("hedged forwards"), limit=4
        )
        top_two = {h.doc_id for h in store.search(request)[:2]}
        assert top_two == {"lease", "hedging"}  # one from each retriever

    def test_dbsf_fusion_also_takes_the_best_of_each_side(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        request = SearchRequest(
            dense=_vector(0), sparse=SPARSE.encode_query("hedged forwards"), limit=4, fusion="dbsf"
        )
        hits = store.search(request)
        assert {h.doc_id for h in hits[:2]} == {"lease", "hedging"}
        assert len(hits) == 4 and hits[0].score >= hits[-1].score

    def test_filters_apply_inside_the_search(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        request = SearchRequest(
            dense=_vector(2),
            sparse=SPARSE.encode_query("cash buffer"),
            where=Where(equals={"domain": "legal"}),
            limit=10,
        )
        hits = store.search(request)
        assert hits and {h.metadata["domain"] for h in hits} == {"legal"}

    def test_ranges_negation_and_exists_filter_on_every_backend(self, store) -> None:
        store.create(SPEC)
        extra = {  # per document: a year, a page, a date, a reviewer on some
            "lease": {"year": 2019, "page": 3, "signed": "2019-05-01T00:00:00Z"},
            "nda": {"year": 2021, "page": 47, "signed": "2021-02-10T00:00:00Z", "by": "Ann"},
            "treasury": {"year": 2023, "page": 12, "signed": "2023-11-30T00:00:00Z"},
            "hedging": {"year": 2024, "page": 50, "by": "Bo"},
        }
        store.upsert(
            [replace(c, payload={**c.payload, **extra[c.payload["doc_id"]]}) for c in _chunks()]
        )

        def docs(filters: Filters) -> list[str]:
            where = where_of(filters)
            hits = store.search(
                SearchRequest(dense=_vector(0), mode="dense", where=where, limit=10)
            )
            assert store.count(where) == len(hits)
            return sorted(h.doc_id for h in hits)

        assert docs({"year": {"gte": 2021, "lt": 2024}}) == ["nda", "treasury"]
        assert docs({"page": {"gte": 40, "lte": 50}}) == ["hedging", "nda"]
        assert docs({"year": {"gt": 2023}}) == ["hedging"]
        assert docs({"signed": {"gte": "2021-01-01", "lte": "2023-12-31"}}) == ["nda", "treasury"]
        assert docs({"domain": {"ne": "legal"}}) == ["hedging", "treasury"]
        assert docs({"doc_id": {"not_in": ["lease", "nda", "hedging"]}}) == ["treasury"]
        assert docs({"by": {"exists": True}}) == ["hedging", "nda"]
        assert docs({"by": {"exists": False}, "domain": "legal"}) == ["lease"]
        assert docs({"page": [47, "12"]}) == ["nda"]  # "12" is a string: no page holds it
        assert docs({"year": {"gte": 2021}, "by": {"exists": False}}) == ["treasury"]

    def test_declared_fields_are_indexed_once_and_filter_by_type(self, store) -> None:
        store.create(SPEC)
        store.upsert(
            [replace(c, payload={**c.payload, "year": 2020 + n}) for n, c in enumerate(_chunks())]
        )
        for _ in range(2):  # idempotent: an existing index is kept
            store.index_fields({"year": "integer", "signed": "datetime", "page": "integer"})
        assert store.count(where_of({"year": {"gte": 2022}})) == 2

    def test_an_incompatible_model_is_a_clear_error(self, store) -> None:
        ensure_collection(store, SPEC, ingest=True)
        other = CollectionSpec(embedding_model="other/model", dimension=DIM, sparse=SPEC.sparse)
        with pytest.raises(EmbeddingMismatchError) as error:
            ensure_collection(store, other, ingest=False)
        message = str(error.value)
        assert "test/model" in message and "other/model" in message
        assert "adaptrag collections drop" in message and "\n" not in message

    def test_other_chunking_is_refused_for_ingest_but_fine_for_queries(self, store) -> None:
        ensure_collection(store, SPEC, ingest=True)
        rechunked = CollectionSpec(
            embedding_model="test/model", dimension=DIM, chunk_tokens=100, sparse=SPEC.sparse
        )
        assert ensure_collection(store, rechunked, ingest=False) == SPEC
        with pytest.raises(ConfigError, match="chunk_tokens=200"):
            ensure_collection(store, rechunked, ingest=True)

    def test_a_name_can_be_served_by_another_version(self, store) -> None:
        store.create(SPEC)
        assert store.serving() is None
        store.set_serving("contract-v2")
        assert store.serving() == "contract-v2"
        store.set_serving(None)
        assert store.serving() is None

    def test_drop_removes_everything(self, store) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        store.drop()
        assert store.spec() is None


class TestEdgeStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[EdgeStore]:
        store = EdgeStore(tmp_path, "contract")
        yield store
        store.close()

    def test_rrf_weights_the_dense_ranking(self, store: EdgeStore) -> None:
        """A heavier dense side lifts what only dense search found ("lease": no keyword
        matches). qdrant-client's in-process mode ignores weights; Edge and servers do not."""
        store.create(SPEC)
        store.upsert(_chunks())
        request = SearchRequest(dense=_vector(0), sparse=SPARSE.encode_query("hedged forwards"))

        def lease_score(weight: float) -> float:
            hits = store.search(replace(request, dense_weight=weight))
            return next(h.score for h in hits if h.doc_id == "lease")

        assert lease_score(0.3) < lease_score(1.0) < lease_score(3.0)

    def test_payload_indexes_exist_on_domain_and_doc_id(self, store: EdgeStore) -> None:
        store.create(SPEC)
        schema = store._open().info().payload_schema
        assert {"domain", "doc_id", "page"} <= set(schema)
        store.index_fields({"year": "integer"})
        assert "year" in store._open().info().payload_schema

    def test_data_survives_close_and_reopen(self, store: EdgeStore, tmp_path: Path) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        store.close()
        again = EdgeStore(tmp_path, "contract")
        assert again.count() == len(TEXTS) and again.spec() == SPEC
        again.close()

    def test_two_stores_in_one_process_share_the_shard(
        self, store: EdgeStore, tmp_path: Path
    ) -> None:
        store.create(SPEC)
        other = EdgeStore(tmp_path, "contract")
        other.upsert(_chunks())
        assert store.count() == len(TEXTS)
        other.close()
        assert store.count() == len(TEXTS)  # still open for the first holder

    @pytest.mark.parametrize(
        ("damaged", "when"),
        [
            ("vector_storage-dense/vectors/chunk_0.mmap", "search"),  # read at search time
            ("vector_storage-sparse/store/page_0.dat", "open"),  # read when the shard loads
        ],
    )
    def test_a_truncated_file_is_a_damage_message_with_the_way_out(
        self, store: EdgeStore, tmp_path: Path, damaged: str, when: str
    ) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        store.close()
        (victim,) = (store.path / "shard" / "segments").glob(f"*/{damaged}")
        with victim.open("r+b") as handle:
            handle.truncate(10)
        again = EdgeStore(tmp_path, "contract")
        with pytest.raises(StoreError) as caught:
            again.search(SearchRequest(dense=_vector(0), sparse=SPARSE.encode_query("notice")))
        message = str(caught.value)
        assert ("cannot open the Qdrant Edge shard" if when == "open" else "is damaged") in message
        assert f"restore {store.path} from a backup" in message
        assert "adaptrag collections drop contract" in message
        assert "\n" not in message
        again.close()

    def test_a_second_process_gets_a_clear_busy_error_with_the_owner_pid(
        self, store: EdgeStore, tmp_path: Path
    ) -> None:
        store.create(SPEC)
        store.upsert(_chunks())
        import os

        code = (
            "import sys; from pathlib import Path\n"
            "from adaptrag.rag.stores.edge import EdgeStore\n"
            "from adaptrag.rag.errors import StoreBusyError\n"
            "try:\n"
            "    EdgeStore(Path(sys.argv[1]), 'contract').count()\n"
            "except StoreBusyError as e:\n"
            "    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
        )
        assert f"in use by another adaptrag process (pid {os.getpid()})" in out.stdout
        assert "ADAPTRAG_QDRANT_URL" in out.stdout
        assert store.count() == len(TEXTS)  # the holder is unharmed
        assert issubclass(StoreBusyError, StoreError)


class TestServerStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[ServerStore]:
        store = open_store(
            f"contract-{uuid.uuid4().hex[:8]}", data_dir=Path("."), qdrant_url=":memory:"
        )
        assert isinstance(store, ServerStore)
        yield store
        if store.client.collection_exists(store.name):
            store.drop()

    def test_a_collection_not_built_by_adaptrag_is_refused(self, store: ServerStore) -> None:
        from qdrant_client import models

        store.client.create_collection(
            store.name, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
        )
        with pytest.raises(StoreError, match="not built by adaptrag"):
            store.spec()

    def test_the_fusion_reaches_the_server_query_as_qdrant_spells_it(self) -> None:
        """What a Qdrant server receives (the in-process mode cannot show weights at work)."""
        from qdrant_client import models

        from adaptrag.rag.stores.server import _fusion

        assert _fusion(SearchRequest()) == models.RrfQuery(rrf=models.Rrf(k=60))
        weighted = _fusion(SearchRequest(dense_weight=2.0))
        assert weighted == models.RrfQuery(rrf=models.Rrf(k=60, weights=[2.0, 1.0]))
        assert _fusion(SearchRequest(fusion="dbsf")) == models.FusionQuery(
            fusion=models.Fusion.DBSF
        )
