"""The server under load, faults and hostile input, over real HTTP on 127.0.0.1.

Each test is a defect seen from outside (issue 12): a wedge under identical concurrent
questions, a key that escaped its domain and the ingest root, work done before the key and
the size were checked, generation that went on after its 504, readiness that lied.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from helpers.fake_anthropic import FakeAnthropic
from helpers.server import ADMIN, KEYS, LEGAL_INGEST, SAMPLE, Served, server_settings, serving
from test_ingest_api import wait_for

from adaptrag.ingest import ingest_paths
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """A server with small body limits and an ingest root laid out as compose does."""
    tmp = tmp_path_factory.mktemp("hostile")
    settings = server_settings(tmp, models_dir, max_upload_mb=0.05, max_body_kb=8)
    root = tmp / "root"
    for domain in ("legal", "finance"):
        (root / domain).mkdir(parents=True)
    (root / "finance" / "fx.txt").write_text("The treasury hedges 80 percent of USD exposure.\n")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0:TOP SECRET OUTSIDE THE ROOT\n")
    for domain in ("legal", "finance"):
        ingest_paths([SAMPLE / domain], domain, settings=settings, embedder=embedder)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


# --- 1. no wedge under identical concurrent questions ----------------------------------


def test_32_identical_and_mixed_concurrent_questions_then_one_more_all_answer(
    hostile: Served,
) -> None:
    questions = ["What is the annual base rent?"] * 24 + [f"notice period {n}" for n in range(8)]

    def retrieve(question: str) -> int:
        with hostile.client() as client:
            return client.post("/v1/retrieve", json={"question": question}).status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(retrieve, questions * 2))
    assert statuses == [200] * 64
    with hostile.client(timeout=120) as client:
        after = client.post("/v1/ask", json={"question": "What is the annual base rent?"})
        assert after.status_code == 200 and after.json()["sources"]
        assert client.get("/readyz").status_code == 200


# --- 3. no key escapes its domain or the root -------------------------------------------


def test_a_domain_key_cannot_ingest_another_domains_folder(hostile: Served) -> None:
    with hostile.client(LEGAL_INGEST) as legal:
        for path in ("finance", "legal/../finance", "finance/fx.txt", "."):
            refused = legal.post("/v1/ingest", json={"paths": [path], "domain": "legal"})
            assert refused.status_code == 403, (path, refused.text)
            assert "may ingest only from legal/" in refused.json()["error"]
        link = hostile.ingest_root / "legal" / "to-finance"
        link.symlink_to(hostile.ingest_root / "finance")
        try:
            through = legal.post(
                "/v1/ingest", json={"paths": ["legal/to-finance"], "domain": "legal"}
            )
            assert through.status_code == 403  # resolved, it is the finance folder
        finally:
            link.unlink()


def test_links_inside_an_ingested_folder_are_not_followed(hostile: Served) -> None:
    legal = hostile.ingest_root / "legal"
    outside = hostile.ingest_root.parent / "outside"
    (legal / "passwd.txt").symlink_to(outside / "secret.txt")
    (legal / "nested").mkdir()
    (legal / "nested" / "etc").symlink_to(outside, target_is_directory=True)
    (legal / "memo.md").write_text("# Memo\n\nThe Quillon escrow closes on 9 May.\n")
    with hostile.client(LEGAL_INGEST) as client:
        started = client.post("/v1/ingest", json={"paths": ["legal"], "domain": "legal"})
        assert started.status_code == 202, started.text
        job = wait_for(client, started.json()["status_url"])
        assert job["status"] == "done", job
        skipped = {issue["path"]: issue["reason"] for issue in job["report"]["skipped"]}
        # relative to the ingest root: no server layout shown
        assert set(skipped) == {"legal/passwd.txt", "legal/nested/etc"}
        assert all("symbolic link" in reason for reason in skipped.values())
        found = client.post("/v1/retrieve", json={"question": "root TOP SECRET", "top_k": 20})
        assert all("TOP SECRET" not in s["text"] for s in found.json()["sources"])


@pytest.mark.parametrize(
    ("path", "status"),
    [("legal\x00/x", 422), ("legal/\n", 422), ("../outside", 403), ("/etc", 403), ("", 422)],
)
def test_hostile_ingest_paths_are_4xx_never_500(hostile: Served, path: str, status: int) -> None:
    with hostile.client(ADMIN) as client:
        response = client.post("/v1/ingest", json={"paths": [path], "domain": "legal"})
    assert response.status_code == status, response.text
    assert str(hostile.ingest_root) not in response.text


def test_an_invalid_domain_is_refused_at_submit(hostile: Served) -> None:
    with hostile.client(ADMIN) as client:
        for domain in ("../legal", "a" * 65, "le gal"):
            response = client.post("/v1/ingest", json={"paths": ["legal"], "domain": domain})
            assert response.status_code == 422 and "invalid domain" in response.json()["error"]


# --- 4. limits before work ---------------------------------------------------------------


def raw_request(url: str, head: str, body: bytes) -> str:
    """Send a request by hand (headers that promise more than is sent); the status line."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        return sock.recv(4096).decode(errors="replace").splitlines()[0]


def test_an_unauthenticated_body_is_refused_before_it_is_read(hostile: Served) -> None:
    # 200 MB promised, 10 bytes sent: the answer comes without waiting for the rest.
    head = (
        "POST /v1/retrieve HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        "content-length: 200000000\r\n"
    )
    assert " 401 " in raw_request(hostile.url, head, b'{"question')
    authed = head + f"Authorization: Bearer {ADMIN}\r\n"
    assert " 413 " in raw_request(hostile.url, authed, b'{"question')


def test_body_limits_hold_for_declared_and_chunked_bodies(hostile: Served) -> None:
    big = b'{"question": "' + b"x" * 20_000 + b'"}'
    with hostile.client() as client:
        declared = client.post(
            "/v1/retrieve", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413 and "ADAPTRAG_MAX_BODY_KB" in declared.json()["error"]
        chunked = client.post(
            "/v1/retrieve",
            content=iter([big[i : i + 1024] for i in range(0, len(big), 1024)]),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413 and chunked.json()["type"] == "too_large"


def test_a_chunked_upload_over_the_limit_is_refused_early_and_leaves_no_files(
    hostile: Served,
) -> None:
    boundary = "b0undary"
    head = (
        "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Authorization: Bearer {LEGAL_INGEST}\r\n"
        f"content-type: multipart/form-data; boundary={boundary}\r\n\r\n"
    )
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="domain"\r\n\r\nlegal\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    piece = b"w" * 65536
    address = urlparse(hostile.url)
    sent, status = 0, ""
    with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
        sock.sendall(head.encode() + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        while sent < 200 * 1024 * 1024:  # up to 200 MB unless the server answers first
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                status = sock.recv(4096).decode(errors="replace").splitlines()[0]
                break
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except OSError:  # the server answered and closed while we were sending
                break
            sent += len(piece)
        if not status:
            status = sock.recv(4096).decode(errors="replace").splitlines()[0]
    assert " 413 " in status
    assert sent < 20 * 1024 * 1024  # refused soon after the 0.05 MB limit, not at the end
    uploads = hostile.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_every_error_has_the_same_json_shape(hostile: Served) -> None:
    with hostile.client() as client:
        missing = client.get("/v1/nothing-here")
        wrong_method = client.get("/v1/ask")
    assert missing.status_code == 404 and set(missing.json()) == {"error", "type"}
    assert "no route GET /v1/nothing-here" in missing.json()["error"]
    assert wrong_method.status_code == 405 and wrong_method.json()["type"] == "method_not_allowed"


def test_an_adapter_of_another_domain_or_none_gets_the_same_answer(hostile: Served) -> None:
    with hostile.client(LEGAL_INGEST) as client:
        response = client.post("/v1/ask", json={"question": "rent", "adapter": "finance"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "no adapter 'finance' that this key may use; GET /v1/adapters lists them"
    )


def test_the_local_queue_is_bounded_with_a_503_and_retry_after(
    hostile: Served, local_generator: LocalGenerator
) -> None:
    local_generator.max_waiting = 1
    local_generator.lock.acquire()  # the model is busy with someone else's work
    try:
        with ThreadPoolExecutor(1) as pool, hostile.client(timeout=120) as client:
            body = {"question": "What is the rent?", "backend": "local", "domain": "legal"}
            waiting = pool.submit(client.post, "/v1/ask", json=body)
            wait_until(lambda: local_generator._waiting == 1)
            refused = client.post("/v1/ask", json=body)
            assert refused.status_code == 503 and refused.json()["type"] == "busy"
            assert refused.headers["retry-after"] == "5"
            local_generator.lock.release()
            assert waiting.result(timeout=120).status_code == 200
    finally:
        local_generator.max_waiting = None
        if local_generator.lock._is_owned():  # type: ignore[attr-defined]
            local_generator.lock.release()


# --- a timeout stops the work, not just the wait -----------------------------------------


@pytest.fixture(scope="module")
def impatient(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("impatient")
    settings = server_settings(tmp, models_dir, request_timeout_s=0.5)
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def test_a_timed_out_generation_stops_and_frees_the_model(
    impatient: Served, local_generator: LocalGenerator
) -> None:
    body = {"question": "Describe the lease.", "domain": "legal", "max_new_tokens": 4000}
    config = local_generator.hf_model.generation_config
    config.min_new_tokens = 4000  # no early end of text: unstopped, this runs for minutes
    try:
        with impatient.client(timeout=300) as client:
            answer = client.post("/v1/ask", json=body)
            assert answer.status_code == 504
            assert "ADAPTRAG_REQUEST_TIMEOUT_S" in answer.json()["error"]
            # stopped, the model is free long before 4,000 tokens could have been made
            assert local_generator.lock.acquire(timeout=60)
            local_generator.lock.release()
            stream = client.post("/v1/ask/stream", json=body)
            assert stream.status_code == 504 or '"type": "timeout"' in stream.text
            assert local_generator.lock.acquire(timeout=60)
            local_generator.lock.release()
    finally:
        config.min_new_tokens = None


# --- 5. readiness tells the truth ---------------------------------------------------------


def test_readiness_is_503_while_another_process_holds_the_store(
    tmp_path: Path,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> None:
    from adaptrag.rag.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", model_cache_dir=models_dir, collection="held")
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from adaptrag.rag.stores.edge import EdgeStore\n"
            "s = EdgeStore(Path(sys.argv[1]), 'held'); s.count(); print('held', flush=True)\n"
            "sys.stdin.read()",
            str(settings.data_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            serving(settings, embedder, local_generator, KEYS) as served,
            served.client(key=None) as anonymous,
        ):
            ready = anonymous.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert "store is not answering" in ready.json()["error"]
            assert str(tmp_path) not in ready.text  # public: no server paths
            with served.client() as admin:  # a key's errors name no server folder either
                busy = admin.post("/v1/retrieve", json={"question": "rent"})
            assert busy.status_code == 503 and "in use by another" in busy.json()["error"]
            assert str(tmp_path) not in busy.text and "<data_dir>" in busy.text
    finally:
        holder.communicate("", timeout=60)


def test_readiness_is_503_while_the_query_path_hangs(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> None:
    from helpers.server import running

    from adaptrag.rag import Pipeline
    from adaptrag.server import create_app
    from adaptrag.server.auth import Keyring

    class Hung:
        """The real embedder, except that queries never come back (until released)."""

        def __init__(self) -> None:
            self.release = threading.Event()
            self.query_prefix = self.passage_prefix = ""
            self.normalize, self.precision = True, embedder.precision
            self.model_id, self.dimension = embedder.model_id, embedder.dimension
            self.max_chunk_tokens = embedder.max_chunk_tokens

        def token_length(self, text: str) -> int:
            return embedder.token_length(text)

        def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
            return embedder.embed_passages(texts)

        def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
            self.release.wait(60)
            return embedder.embed_queries(texts)

        def with_model(self, model_id: str) -> Embedder:
            return embedder.with_model(model_id)

        def with_precision(self, precision: str) -> Embedder:
            return self if precision == self.precision else embedder.with_precision(precision)

    tmp = tmp_path_factory.mktemp("hung")
    settings = server_settings(tmp, models_dir, request_timeout_s=1)
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    hung = Hung()
    pipeline = Pipeline(settings, embedder=hung, generators={"local": local_generator})
    app = create_app(settings, pipeline=pipeline, keys=Keyring([]), warm_up=False)
    try:
        with running(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "probe search" in ready.json()["error"]
            hung.release.set()
            assert client.get("/readyz").status_code == 200
    finally:
        hung.release.set()
        pipeline.close()


def test_claude_refusing_the_servers_own_key_is_a_502(
    hostile: Served, claude_env: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forget_claude() -> None:  # the next ask builds the Claude client again
        hostile.pipeline.generator("claude").close()

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-not-the-right-one")
    forget_claude()
    try:
        with hostile.client() as client:
            response = client.post("/v1/ask", json={"question": "rent", "backend": "claude"})
        assert response.status_code == 502 and response.json()["type"] == "backend_failed"
        assert "rejected the API key" in response.json()["error"]
    finally:
        forget_claude()
