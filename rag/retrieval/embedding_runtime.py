"""Where embeddings are computed: PyTorch, or ONNX Runtime over an export of the same model.

`torch` runs the sentence-transformers model as loaded. `onnx` runs an ONNX export of its
transformer in ONNX Runtime, with the model's own pooling and normalization in numpy: the
same vectors (cosine >= 0.9999 to torch's, tested), faster on a CPU. `onnx-int8` runs a
dynamically int8-quantised copy of that export: faster again, but its vectors are another
model's, so a collection records the precision it was built with (`CollectionSpec.
embedding_precision`) and never mixes the two. `auto` takes the fastest runtime that gives
a collection's precision: `onnx` for fp32 (torch without onnxruntime), `onnx-int8` for int8;
a new collection gets `NEW_COLLECTION_PRECISION`.

Exports are made offline from the local model folder, once, and cached under
`<models_dir>/onnx/` by a hash of the model's files, the precision and the exporter's
versions; a half-written export is never read (written aside, then renamed).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from adaptrag.rag.errors import ConfigError, ModelLoadError

logger = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")
PRECISION = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
# What a collection created with runtime=auto is built with: the fastest precision whose
# hit@5 stays within 0.01 of fp32 torch on the public sets. int8 lost 0.013 on CUAD
# (benchmarks/bench_embedding.py, 2026-12-06; docs/explanation/benchmarks.md), so fp32.
NEW_COLLECTION_PRECISION = "fp32"
OPSET = 17
POOLINGS = ("mean", "cls", "max")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's and the quantiser's advice (tracer warnings, a root-logger hint to
    pre-process) kept off the user's terminal: the export is checked by its vectors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            yield
        finally:
            root.setLevel(level)


def onnx_available() -> bool:
    """Whether ONNX Runtime (and the `onnx` package its quantiser needs) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def concrete_runtime(runtime: str, precision: str) -> str:
    """The runtime that computes `precision` vectors for the setting `runtime`."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown embedding runtime {runtime!r}; use one of {RUNTIMES}")
    if runtime != "auto":
        return runtime
    if precision == "int8":
        return "onnx-int8"
    return "onnx" if onnx_available() else "torch"


def _pooling(model: Any) -> tuple[str, bool]:
    """The model's pooling mode and whether it normalizes, from its module list; a model
    with other modules (a Dense layer...) has no ONNX path here."""
    names = [type(module).__name__ for module in model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        raise ConfigError(
            f"the ONNX runtime takes Transformer + Pooling (+ Normalize) models, this one is "
            f"{' + '.join(names)}; set ADAPTRAG_EMBEDDING_RUNTIME=torch"
        )
    pooling = model[1]
    config = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
    mode = str(config.get("pooling_mode") or pooling.get_pooling_mode_str())
    if mode not in POOLINGS:
        raise ConfigError(
            f"the ONNX runtime pools by {', '.join(POOLINGS)}, this model by {mode!r}; set "
            "ADAPTRAG_EMBEDDING_RUNTIME=torch"
        )
    return mode, "Normalize" in names


def _model_hash(folder: Path, quantized: bool) -> str:
    """What an export depends on: the model's files (names, sizes, times), the precision
    and the versions of the exporter."""
    import onnxruntime
    import torch

    digest = hashlib.sha256(f"{torch.__version__} {onnxruntime.__version__} {OPSET}".encode())
    digest.update(b"int8" if quantized else b"fp32")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _forward(transformer: Any, names: list[str]) -> Any:
    """The transformer's forward on positional inputs named `names`, returning the token
    embeddings: the module the exporter traces."""
    import torch

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return Forward().eval()


class OnnxEncoder:
    """A sentence-transformers model's embeddings through ONNX Runtime.

    Args:
        model: the loaded `SentenceTransformer` (its tokenizer, transformer and pooling).
        folder: the model's local folder (what the export's cache key is made from).
        cache_dir: where exports are kept (`<models_dir>/onnx`).
        quantized: the int8 copy instead of the fp32 export.
    """

    def __init__(self, model: Any, folder: Path, cache_dir: Path, *, quantized: bool) -> None:
        self.model = model
        self.pooling, self.normalizes = _pooling(model)
        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_seq_length)
        self.path = self._exported(folder, cache_dir, quantized=quantized)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _exported(self, folder: Path, cache_dir: Path, *, quantized: bool) -> Path:
        """The cached export for this model and precision, made now when missing (the int8
        copy is quantised from the cached fp32 export, made first if needed)."""
        name = folder.name or "model"
        target = cache_dir / f"{name}-{_model_hash(folder, quantized)}" / "model.onnx"
        if target.is_file():
            return target
        source = self._exported(folder, cache_dir, quantized=False) if quantized else None
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            made = Path(scratch) / "model.onnx"
            try:
                if source is None:
                    self._export(made)
                else:
                    from onnxruntime.quantization import QuantType, quantize_dynamic

                    # Per channel: cosine to the fp32 vectors 0.99 (per tensor: 0.955).
                    with _quiet():
                        quantize_dynamic(
                            str(source), str(made), weight_type=QuantType.QInt8, per_channel=True
                        )
            except (RuntimeError, ValueError, TypeError, OSError) as exc:
                raise ModelLoadError(
                    f"cannot export the embedding model to ONNX ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}); set "
                    "ADAPTRAG_EMBEDDING_RUNTIME=torch"
                ) from exc
            os.replace(made, target)
        logger.info("exported the embedding model to %s", target)
        return target

    def _export(self, path: Path) -> None:
        import torch

        names = [
            n
            for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in self.tokenizer.model_input_names
        ]
        sample = self.tokenizer(["an example", "a second, longer example"], padding=True)
        tensors = tuple(torch.tensor(sample[n]) for n in names)
        axes = {n: {0: "batch", 1: "tokens"} for n in names}
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                _forward(self.model[0].auto_model, names),
                tensors,
                str(path),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={**axes, "token_embeddings": {0: "batch", 1: "tokens"}},
                opset_version=OPSET,
                dynamo=False,
            )

    def encode(self, texts: list[str], *, normalize: bool) -> np.ndarray:
        """One row per text: the model's pooled (and normalized) embeddings."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feeds = {n: np.asarray(batch[n], dtype=np.int64) for n in self.inputs}
        tokens = self.session.run(None, feeds)[0]
        mask = np.asarray(batch["attention_mask"], dtype=np.float32)[..., None]
        if self.pooling == "cls":
            vectors = tokens[:, 0]
        elif self.pooling == "max":
            vectors = np.where(mask > 0, tokens, -1e9).max(axis=1)
        else:
            vectors = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if normalize or self.normalizes:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.astype(np.float32)
