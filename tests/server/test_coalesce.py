"""Concurrent query embeddings share model calls, each caller gets its own rows, and no
failure or hang leaves the coalescer stuck."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from adaptrag.rag.errors import ModelBusyError
from adaptrag.rag.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from adaptrag.server.coalesce import CoalescingEmbedder


def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    """Poll `condition` until true; fail (never hang) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


class Gated:
    """The real embedder, whose first call waits until released (so others pile up)."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.query_prefix, self.passage_prefix = inner.query_prefix, inner.passage_prefix
        self.normalize, self.precision = inner.normalize, inner.precision
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.max_chunk_tokens = inner.max_chunk_tokens
        self.release = threading.Event()
        self.calls: list[list[str]] = []

    def token_length(self, text: str) -> int:
        return self.inner.token_length(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def with_model(self, model_id: str) -> Embedder:
        return self.inner.with_model(model_id)

    def with_precision(self, precision: str) -> Embedder:
        return self if precision == self.precision else self.inner.with_precision(precision)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        first = not self.calls
        self.calls.append(list(texts))
        if first:
            assert self.release.wait(30), "the test never released the model"
        if "boom" in texts:
            raise RuntimeError("model failed")
        return self.inner.embed_queries(texts)


def pile_up(
    shared: CoalescingEmbedder, pool: ThreadPoolExecutor, batches: list[list[str]]
) -> list[Future[np.ndarray]]:
    """Start the first call (it holds the model), queue the others behind it."""
    first = pool.submit(shared.embed_queries, batches[0])
    wait_until(lambda: shared.busy)
    rest = [pool.submit(shared.embed_queries, texts) for texts in batches[1:]]
    wait_until(lambda: shared.waiting == len(batches) - 1)
    return [first, *rest]


def test_waiting_calls_are_embedded_together_in_order(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    shared = CoalescingEmbedder(gated)
    questions = [f"question number {n} about rent" for n in range(9)]
    with ThreadPoolExecutor(9) as pool:
        futures = pile_up(shared, pool, [[q] for q in questions])
        gated.release.set()
        rows = [f.result(timeout=60) for f in futures]
    assert [len(c) for c in gated.calls] == [1, 8]  # nine callers, two model calls
    expected = embedder.embed_queries(questions)
    for got, want in zip(rows, expected, strict=True):
        np.testing.assert_allclose(got[0], want, atol=1e-5)


def test_identical_concurrent_questions_each_get_an_answer_and_leave_no_state(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # Equal calls once compared equal by value: `remove` took another caller's entry, one
    # caller got a 500 and every later one waited forever.
    gated = Gated(embedder)
    shared = CoalescingEmbedder(gated, max_batch=8)
    same = ["what is the notice period?"]
    with ThreadPoolExecutor(32) as pool:
        futures = pile_up(shared, pool, [same] * 32)
        gated.release.set()
        rows = [f.result(timeout=60) for f in futures]
    want = embedder.embed_queries(same)[0]
    for row in rows:
        np.testing.assert_allclose(row[0], want, atol=1e-5)
    assert sum(len(c) for c in gated.calls) == 32  # every caller embedded exactly once
    assert not shared.busy and shared.waiting == 0
    np.testing.assert_allclose(shared.embed_queries(same)[0], want, atol=1e-5)


def test_an_error_inside_a_coalesced_batch_reaches_its_callers_and_the_next_call_works(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    shared = CoalescingEmbedder(gated)
    with ThreadPoolExecutor(4) as pool:
        futures = pile_up(shared, pool, [["first"], ["boom"], ["boom"], ["other"]])
        gated.release.set()
        assert futures[0].result(timeout=60).shape == (1, 384)
        for future in futures[1:]:  # the second model call held all three, and failed
            with pytest.raises(RuntimeError, match="model failed"):
                future.result(timeout=60)
    assert not shared.busy and shared.waiting == 0
    assert shared.embed_queries(["after"]).shape == (1, 384)


def test_an_alone_call_runs_at_once_and_errors_reach_every_caller(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    gated.release.set()
    shared = CoalescingEmbedder(gated)
    assert shared.embed_queries(["one", "two"]).shape == (2, 384) and len(gated.calls) == 1
    with pytest.raises(RuntimeError, match="model failed"):
        shared.embed_queries(["boom"])
    assert shared.embed_queries(["after"]).shape == (1, 384)  # not stuck after a failure


def test_a_hung_model_gives_waiters_a_busy_error_instead_of_a_wait_forever(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    shared = CoalescingEmbedder(gated, max_wait_s=0.2)
    with ThreadPoolExecutor(2) as pool:
        holder = pool.submit(shared.embed_queries, ["slow"])
        wait_until(lambda: shared.busy)
        with pytest.raises(ModelBusyError, match="busy"):
            shared.embed_queries(["waiting"])
        assert shared.waiting == 0  # the one that gave up left no entry behind
        gated.release.set()
        assert holder.result(timeout=60).shape == (1, 384)
    assert shared.embed_queries(["after"]).shape == (1, 384)
