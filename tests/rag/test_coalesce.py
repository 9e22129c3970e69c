"""Concurrent query embeddings share model calls and each caller gets its own rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.coalesce import CoalescingEmbedder
from rag.embedder import SentenceTransformerEmbedder


class Gated:
    """The real embedder, whose first call waits until released (so others pile up)."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.query_prefix, self.passage_prefix = inner.query_prefix, inner.passage_prefix
        self.normalize = inner.normalize
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.max_chunk_tokens = inner.max_chunk_tokens
        self.release = threading.Event()
        self.calls: list[int] = []

    def token_length(self, text: str) -> int:
        return self.inner.token_length(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not self.calls:
            self.release.wait(10)
        self.calls.append(len(texts))
        if "boom" in texts:
            raise RuntimeError("model failed")
        return self.inner.embed_queries(texts)


def test_waiting_calls_are_embedded_together_in_order(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    shared = CoalescingEmbedder(gated)
    questions = [f"question number {n} about rent" for n in range(9)]
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(shared.embed_queries, questions[:1])
        while not shared._busy:  # the first call holds the model
            time.sleep(0.005)
        rest = [pool.submit(shared.embed_queries, [q]) for q in questions[1:]]
        while len(shared._queue) < 8:  # the others wait for it
            time.sleep(0.005)
        gated.release.set()
        rows = [first.result(), *(f.result() for f in rest)]
    assert gated.calls == [1, 8]  # nine callers, two model calls
    expected = embedder.embed_queries(questions)
    for got, want in zip(rows, expected, strict=True):
        np.testing.assert_allclose(got[0], want, atol=1e-5)


def test_an_alone_call_runs_at_once_and_errors_reach_every_caller(
    embedder: SentenceTransformerEmbedder,
) -> None:
    gated = Gated(embedder)
    gated.release.set()
    shared = CoalescingEmbedder(gated)
    assert shared.embed_queries(["one", "two"]).shape == (2, 384) and gated.calls == [2]
    with pytest.raises(RuntimeError, match="model failed"):
        shared.embed_queries(["boom"])
    assert shared.embed_queries(["after"]).shape == (1, 384)  # not stuck after a failure
