"""Merging concurrent query embeddings into one model call (for servers).

Under concurrent requests each thread would run the embedding model on one question; the
model is far cheaper per question in a batch. `CoalescingEmbedder` wraps any `Embedder`:
a call that finds the model idle runs at once (no added latency when alone); calls that
arrive while it runs wait and are then embedded together, in one batch, by whichever of
them goes next. Results go back to each caller in order; an error reaches every caller of
the batch that failed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.embedder import Embedder


@dataclass
class _Call:
    texts: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False
    batch_size: int = field(default=0)


class CoalescingEmbedder:
    """An `Embedder` whose concurrent `embed_queries` calls share model calls."""

    def __init__(self, inner: Embedder, max_batch: int = 64) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self.query_prefix = inner.query_prefix
        self.passage_prefix = inner.passage_prefix
        self.normalize = inner.normalize
        self._cond = threading.Condition()
        self._queue: list[_Call] = []
        self._busy = False
        self.batches = 0  # model calls made, for tests and metrics

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_chunk_tokens(self) -> int:
        return self.inner.max_chunk_tokens

    def token_length(self, text: str) -> int:
        return self.inner.token_length(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The rows for `texts`, computed alone or together with concurrent callers'."""
        call = _Call(list(texts))
        with self._cond:
            self._queue.append(call)
            while not call.done and self._busy:
                self._cond.wait()
            if call.done:
                return self._result(call)
            self._busy = True
            self._queue.remove(call)
            batch, size = [call], len(call.texts)
            while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
        try:
            vectors = self.inner.embed_queries([t for c in batch for t in c.texts])
            start = 0
            for member in batch:
                member.result = vectors[start : start + len(member.texts)]
                start += len(member.texts)
        except BaseException as error:  # every caller of the batch learns of it
            for member in batch:
                member.error = error
            raise
        finally:
            with self._cond:
                for member in batch:
                    member.done, member.batch_size = True, len(batch)
                self.batches += 1
                self._busy = False
                self._cond.notify_all()
        return self._result(call)

    @staticmethod
    def _result(call: _Call) -> np.ndarray:
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result
