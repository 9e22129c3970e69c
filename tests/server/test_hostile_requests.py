"""Hostile requests that must not cost or leak anything: wrong keys in bulk, loose types, a
NUL in a question, adapter names in public metrics (issue 31)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.server import KEYS, Served, server_settings, serving
from prometheus_client import generate_latest

from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.types import Answer
from adaptrag.server.metrics import Metrics
from adaptrag.server.throttle import WrongKeyThrottle


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Served]:
    """A server of its own: the wrong-key test blocks this machine's address on it."""
    settings = server_settings(tmp_path_factory.mktemp("guarded"), models_dir)
    with serving(settings, embedder, local_generator, KEYS) as served:
        yield served


def test_repeated_wrong_keys_get_429_for_a_growing_while_and_a_right_key_clears_it(
    guarded: Served,
) -> None:
    with guarded.client(key="wrong") as wrong, guarded.client() as right:
        codes = [wrong.get("/v1/collections").status_code for _ in range(10)]
        assert codes == [401] * 10  # the free tries
        assert right.get("/v1/collections").status_code == 200  # a right key clears them
        # The 11th wrong key within the minute is still answered, and blocks the address.
        codes = [wrong.get("/v1/collections").status_code for _ in range(11)]
        assert codes == [401] * 11
        blocked = wrong.get("/v1/collections")
        assert blocked.status_code == 429 and blocked.json()["type"] == "too_many_wrong_keys"
        assert int(blocked.headers["Retry-After"]) >= 1
        # While blocked, even the right key waits: guessing gains nothing from switching.
        assert right.get("/v1/collections").status_code == 429
        time.sleep(int(blocked.headers["Retry-After"]) + 0.1)
        assert right.get("/v1/collections").status_code == 200


def test_the_throttle_doubles_the_delay_and_forgets_old_addresses() -> None:
    now = [0.0]
    throttle = WrongKeyThrottle(free=2, max_delay_s=8, max_clients=3, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("a")
    assert throttle.retry_after_s("a") == 0
    delays = []
    for _ in range(5):
        throttle.failed("a")
        delays.append(throttle.retry_after_s("a"))
    assert delays == [1, 2, 4, 8, 8]
    for client in ("b", "c", "d"):
        throttle.failed(client)
    assert throttle.retry_after_s("a") == 0  # the oldest address was let go (memory bound)


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_k", "3"), ("top_k", True), ("top_k", 2.5), ("question", 12), ("domain", ["legal"])],
)
def test_request_fields_take_their_json_type_only(
    served: Served, field: str, value: object
) -> None:
    with served.client() as client:
        body = {"question": "What is the notice period?", field: value}
        response = client.post("/v1/retrieve", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]


@pytest.mark.parametrize("question", ["notice\x00period", "bell\x07", "esc\x1b[1m"])
def test_a_control_character_in_a_question_is_a_422(served: Served, question: str) -> None:
    with served.client() as client:
        response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 422 and "control character" in response.json()["error"]


def test_tabs_and_newlines_in_a_question_are_fine(served: Served) -> None:
    with served.client() as client:
        response = client.post("/v1/retrieve", json={"question": "notice\tperiod\nof the lease"})
    assert response.status_code == 200


def test_public_metrics_name_no_adapter() -> None:
    metrics = Metrics()
    for adapter in ("legal/v3", "base", None):
        metrics.answered(Answer("x", [], [], backend="local", model="m", adapter=adapter))
    text = generate_latest(metrics.registry).decode()
    assert "legal" not in text
    for kind in ("domain", "base", "none"):
        assert f'adaptrag_answers_total{{adapter="{kind}",backend="local"}} 1.0' in text


def test_healthz_needs_no_key_even_for_a_blocked_address(guarded: Served) -> None:
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200
