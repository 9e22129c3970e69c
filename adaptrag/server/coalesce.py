"""Merging concurrent query embeddings into one model call (for servers).

Under concurrent requests each thread would run the embedding model on one question; the
model is far cheaper per question in a batch. `CoalescingEmbedder` wraps any `Embedder`:
a call that finds the model idle runs at once (no added latency when alone); calls that
arrive while it runs wait and are then embedded together, in one batch, by whichever of
them goes next. Results go back to each caller in order; an error reaches every caller of
the batch that failed.

Bookkeeping is by identity (two callers asking the same question are two calls), the busy
flag is cleared on every path out of a batch, and no caller waits longer than
`max_wait_s`: a model that hangs gives each waiter a `ModelBusyError`, not a stuck thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from adaptrag.rag.errors import ModelBusyError
from adaptrag.rag.retrieval.embedder import Embedder


@dataclass(eq=False)  # identity, not value: equal questions are still different callers
class _Call:
    texts: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


class CoalescingEmbedder:
    """An `Embedder` whose concurrent `embed_queries` calls share model calls.

    Args:
        inner: the embedder that runs the model.
        max_batch: most texts in one model call. Default 64.
        max_wait_s: longest a call waits for the model before `ModelBusyError`. Default 120.
    """

    def __init__(self, inner: Embedder, max_batch: int = 64, max_wait_s: float = 120.0) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.query_prefix = inner.query_prefix
        self.passage_prefix = inner.passage_prefix
        self.normalize = inner.normalize
        self.precision = inner.precision
        self._cond = threading.Condition()
        self._queue: list[_Call] = []
        self._busy = False
        self.batches = 0  # model calls made, for tests and metrics

    @property
    def model_id(self) -> str:
        """The wrapped embedder's model id."""
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        """The wrapped embedder's vector length."""
        return self.inner.dimension

    @property
    def max_chunk_tokens(self) -> int:
        """The wrapped embedder's passage token limit."""
        return self.inner.max_chunk_tokens

    @property
    def busy(self) -> bool:
        """Whether a model call is running now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Calls queued for the next model call."""
        with self._cond:
            return len(self._queue)

    def with_model(self, model_id: str) -> CoalescingEmbedder:
        """A coalescing embedder over the wrapped one's version with another model."""
        return CoalescingEmbedder(self.inner.with_model(model_id), self.max_batch, self.max_wait_s)

    def with_precision(self, precision: str) -> CoalescingEmbedder:
        """A coalescing embedder over the wrapped one giving `precision` (itself when the
        wrapped one stays as it is)."""
        inner = self.inner.with_precision(precision)
        return (
            self
            if inner is self.inner
            else CoalescingEmbedder(inner, self.max_batch, self.max_wait_s)
        )

    def token_length(self, text: str) -> int:
        """Tokens in `text` (not coalesced: no model call)."""
        return self.inner.token_length(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages go straight to the wrapped embedder (ingest batches are large already)."""
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The rows for `texts`, computed alone or together with concurrent callers'."""
        call = _Call(list(texts))
        deadline = time.monotonic() + self.max_wait_s
        with self._cond:
            self._queue.append(call)
            try:
                while self._busy and not call.done:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ModelBusyError(
                            f"the embedding model has been busy for {self.max_wait_s:g} s; "
                            "try again, or lower the load"
                        )
                    self._cond.wait(remaining)
            except BaseException:  # leaving without being served: nobody may serve it later
                self._discard(call)
                raise
            if call.done:
                return self._result(call)
            batch = self._take_batch(call)
        try:
            vectors = self.inner.embed_queries([t for c in batch for t in c.texts])
            start = 0
            for member in batch:
                member.result = vectors[start : start + len(member.texts)]
                start += len(member.texts)
        except BaseException as error:  # noqa: BLE001 - every caller of the batch learns of it
            for member in batch:
                member.error = error
        finally:
            with self._cond:
                for member in batch:
                    member.done = True
                self.batches += 1
                self._busy = False
                self._cond.notify_all()
        return self._result(call)

    def _discard(self, call: _Call) -> None:
        self._queue = [queued for queued in self._queue if queued is not call]

    def _take_batch(self, leader: _Call) -> list[_Call]:
        """Mark the model busy and take the leader plus the queued calls that fit (lock held)."""
        self._busy = True
        self._discard(leader)
        batch, size, rest = [leader], len(leader.texts), []
        for queued in self._queue:
            if size + len(queued.texts) <= self.max_batch:
                batch.append(queued)
                size += len(queued.texts)
            else:
                rest.append(queued)
        self._queue = rest
        return batch

    @staticmethod
    def _result(call: _Call) -> np.ndarray:
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result
