"""The optional reranking stage: a cross-encoder reads (question, chunk) pairs together.

Retrieval ranks chunks by comparing separately computed vectors; a cross-encoder reads the
question and each candidate at once, which ranks better and costs one model pass per
candidate. With `ADAPTRAG_RERANKER_MODEL` set (any sentence-transformers `CrossEncoder`,
a Hugging Face id or a local path), the retriever fetches `rerank_candidates` chunks,
this stage orders them, and the best `top_k` are kept; `Answer.timings["rerank_ms"]`
says what it cost. Off by default: no model ships with the package.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from adaptrag.rag.errors import ModelLoadError
from adaptrag.rag.infra.devices import resolve_device
from adaptrag.rag.infra.load_timing import loading
from adaptrag.rag.types import Source

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

logger = logging.getLogger(__name__)


class Reranker(Protocol):
    """Orders candidate sources for a question, best first."""

    def rerank(self, question: str, sources: Sequence[Source]) -> list[Source]:
        """The sources, best first, each with the reranker's score."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder`, loaded on first use and shared by threads."""

    def __init__(self, model_id: str, *, device: str = "auto", batch_size: int = 32) -> None:
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CrossEncoderReranker | None:
        """The configured reranker, or None when `reranker_model` is unset."""
        if not settings.retrieval.reranker_model:
            return None
        return cls(settings.retrieval.reranker_model, device=settings.embedding.embedding_device)

    @property
    def model(self) -> Any:
        """The loaded model (a one-line `ModelLoadError` for an id that cannot load)."""
        if self._model is not None:
            return self._model
        with loading(), self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                device = resolve_device(self.device)
                local = Path(self.model_id).expanduser()
                try:
                    self._model = CrossEncoder(
                        str(local) if local.is_dir() else self.model_id, device=device
                    )
                except Exception as exc:  # HF raises OSError, ValueError... for a bad id
                    raise ModelLoadError(
                        f"cannot load reranker model {self.model_id!r} ({type(exc).__name__}); "
                        "give a local path or an id already in the Hugging Face cache, or unset "
                        "ADAPTRAG_RERANKER_MODEL"
                    ) from exc
                logger.info("loaded reranker %s on %s", self.model_id, device)
            return self._model

    def rerank(self, question: str, sources: Sequence[Source]) -> list[Source]:
        """The sources ordered by the cross-encoder's score (which replaces theirs)."""
        if not sources:
            return []
        scores = self.model.predict(
            [(question, s.text) for s in sources],
            batch_size=self.batch_size,
            show_progress_bar=False,
        )
        scored = [replace(s, score=float(score)) for s, score in zip(sources, scores, strict=True)]
        return sorted(scored, key=lambda s: -s.score)
