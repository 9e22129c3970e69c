"""Cluster settings reach Qdrant: checked on the wire (qdrant-client's in-process mode has no
shards or replicas), with the real client talking REST to a recording server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from qdrant_client import QdrantClient

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.rag.stores import CollectionSpec, StoredChunk, Where
from adaptrag.rag.stores.base import SearchRequest
from adaptrag.rag.stores.server import ServerStore, read_consistency
from adaptrag.rag.types import SparseVector


class RecordingQdrant:
    """Answers the REST calls a collection's life makes, and keeps each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.exists = False
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length)) if length else None
                recorder.requests.append((self.command, url.path, parse_qs(url.query), body))
                result: Any = True
                payload: dict[str, Any]
                if url.path == "/":
                    payload = {"title": "qdrant - vector search engine", "version": "1.19.0"}
                elif url.path.endswith("/exists"):
                    result = {"exists": recorder.exists}
                elif url.path.endswith("/points/query"):
                    result = {"points": []}
                elif url.path.endswith(("/points", "/index")):
                    result = {"operation_id": 1, "status": "completed"}
                if url.path != "/":
                    payload = {"result": result, "status": "ok", "time": 0.0}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self, method: str, suffix: str) -> list[tuple[dict[str, list[str]], Any]]:
        return [(q, b) for m, p, q, b in self.requests if m == method and p.endswith(suffix)]


@pytest.fixture
def qdrant() -> Iterator[RecordingQdrant]:
    server = RecordingQdrant()
    yield server
    server.server.shutdown()
    server.server.server_close()


SPEC = CollectionSpec(
    embedding_model="m",
    dimension=2,
    query_prefix="",
    passage_prefix="",
    normalize=True,
    chunk_tokens=200,
    chunk_overlap_tokens=32,
    sparse={},
)


def chunk(n: int, domain: str) -> StoredChunk:
    point = f"00000000-0000-0000-0000-00000000000{n}"
    return StoredChunk(point, [0.1, 0.2], SparseVector([1], [1.0]), {"domain": domain})


def search(store: ServerStore, where: Where) -> None:
    store.search(SearchRequest(dense=[0.1, 0.2], sparse=None, mode="dense", limit=3, where=where))


def test_a_domain_sharded_cluster_collection_gets_its_settings_on_the_wire(
    qdrant: RecordingQdrant,
) -> None:
    settings = Settings(
        qdrant_url=qdrant.url,
        qdrant_shards=2,
        qdrant_replicas=2,
        qdrant_write_consistency=2,
        qdrant_read_consistency="majority",
        qdrant_shard_by_domain=True,
    )
    store = ServerStore(
        QdrantClient(url=qdrant.url, check_compatibility=False),
        "docs",
        shards=settings.store.qdrant_shards,
        replicas=settings.store.qdrant_replicas,
        write_consistency=settings.store.qdrant_write_consistency,
        read_consistency=read_consistency(settings.store.qdrant_read_consistency),
        shard_by_domain=settings.store.qdrant_shard_by_domain,
    )
    store.create(SPEC)
    (_, created), *_ = qdrant.calls("PUT", "/collections/docs")
    assert created["sharding_method"] == "custom" and created["replication_factor"] == 2
    assert created["write_consistency_factor"] == 2 and "shard_number" not in created

    store.upsert([chunk(1, "legal"), chunk(2, "finance"), chunk(3, "legal")])
    store.upsert([chunk(4, "legal")])  # the key exists now: not created again
    keys = [b for _, b in qdrant.calls("PUT", "/collections/docs/shards")]
    assert keys == [
        {"shard_key": "legal", "shards_number": 2, "replication_factor": 2},
        {"shard_key": "finance", "shards_number": 2, "replication_factor": 2},
    ]
    writes = [(b["shard_key"], len(b["points"])) for _, b in qdrant.calls("PUT", "/points")]
    assert writes == [("legal", 2), ("finance", 1), ("legal", 1)]

    search(store, Where(equals={"domain": "legal"}))  # one domain: its shards only
    search(store, Where(equals={"domain": ["legal", "finance"]}))  # several: every shard
    (first, within), (_, across) = qdrant.calls("POST", "/points/query")
    assert within["shard_key"] == "legal" and first["consistency"] == ["majority"]
    assert across.get("shard_key") is None


def test_without_cluster_settings_requests_carry_none(qdrant: RecordingQdrant) -> None:
    store = ServerStore(QdrantClient(url=qdrant.url, check_compatibility=False), "plain")
    store.create(SPEC)
    (_, created), *_ = qdrant.calls("PUT", "/collections/plain")
    assert created.get("sharding_method") is None and created["shard_number"] == 1
    store.upsert([chunk(1, "legal")])
    assert qdrant.calls("PUT", "/shards") == []
    assert qdrant.calls("PUT", "/points")[0][1].get("shard_key") is None
    search(store, Where(equals={"domain": "legal"}))
    query, body = qdrant.calls("POST", "/points/query")[0]
    assert "consistency" not in query and body.get("shard_key") is None


def test_a_read_consistency_is_a_number_or_a_named_level() -> None:
    assert read_consistency("2") == 2 and read_consistency(None) is None
    assert str(read_consistency("quorum")) in ("quorum", "ReadConsistencyType.QUORUM")
    with pytest.raises(ConfigError, match="qdrant_read_consistency"):
        load_settings(qdrant_read_consistency="most")
