"""Slow clients are cut off, with real sockets against the real server: headers trickled
byte by byte, a body slower than declared, many of them at once (issue 31)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from helpers.server import ADMIN, KEYS, Served, server_settings, serving

from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder

LIMIT_S = 1.0
# Far above LIMIT_S: the cut must come from the timer, whatever the machine's load.
GIVE_UP_S = 15.0


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("slow")
    settings = server_settings(
        tmp, models_dir, header_timeout_s=LIMIT_S, body_timeout_s=LIMIT_S, keep_alive_timeout_s=2
    )
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def _connect(served: Served) -> socket.socket:
    url = urlsplit(served.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=GIVE_UP_S)
    return sock


def _closed_by_server(sock: socket.socket, trickle: bytes = b"") -> float:
    """Seconds until the server closes `sock`, sending `trickle` a byte at a time meanwhile."""
    started = time.monotonic()
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() - started < GIVE_UP_S:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if trickle:
            try:
                sock.send(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
    pytest.fail(f"the server kept the connection open for {GIVE_UP_S} s")


def test_headers_trickled_byte_by_byte_are_cut_off(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        after = _closed_by_server(sock, trickle=b"X-Slow: aaaaaaaaaaaaaaaa\r\n")
    assert LIMIT_S * 0.9 <= after < GIVE_UP_S


def test_a_body_slower_than_declared_is_cut_off(served: Served) -> None:
    head = (
        "POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {ADMIN}\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(served) as sock:
        sock.sendall(head.encode() + b'{"question": "How long is t')  # 28 of 1000 bytes
        after = _closed_by_server(sock)
    assert LIMIT_S * 0.9 <= after < GIVE_UP_S


def test_many_slow_sockets_at_once_are_all_cut_and_the_server_still_answers(
    served: Served,
) -> None:
    sockets = [_connect(served) for _ in range(100)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = time.monotonic() + GIVE_UP_S
        open_ = list(sockets)
        while open_ and time.monotonic() < deadline:
            for sock in list(open_):
                sock.settimeout(0.01)
                try:
                    if sock.recv(1) == b"":
                        open_.remove(sock)
                except TimeoutError:
                    pass
                except ConnectionResetError:
                    open_.remove(sock)
        assert open_ == []
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{served.url}/healthz", timeout=GIVE_UP_S).status_code == 200


def test_a_client_within_the_limits_is_served_on_a_kept_alive_connection(
    served: Served,
) -> None:
    body = b'{"question": "x"}'
    head = (
        "POST /v1/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {ADMIN}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(served) as sock:
        for _ in range(2):  # two requests on one connection, each body sent in pieces
            sock.sendall(head)
            for piece in (body[:5], body[5:10], body[10:]):
                time.sleep(LIMIT_S / 5)
                sock.sendall(piece)
            status, reply = _response(sock)
            assert status == 404 and b"does not exist yet" in reply  # answered, not cut
            time.sleep(LIMIT_S / 2)  # idle between requests, under the header limit


def _response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 response read off `sock`: its status and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1]), body
