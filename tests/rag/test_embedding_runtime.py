"""The embedding runtimes: the same vectors through ONNX Runtime, int8 kept apart.

Real models throughout: the packaged MiniLM exported by torch's ONNX exporter, run by ONNX
Runtime, quantised by its dynamic quantiser, and stored in the real embedded Qdrant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError, EmbeddingMismatchError
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder, resolve_model_path
from adaptrag.rag.retrieval.embedding_runtime import OnnxEncoder, concrete_runtime
from adaptrag.rag.settings import DEFAULT_EMBEDDING_MODEL, Settings
from adaptrag.rag.stores.base import CollectionSpec

ROOT = Path(__file__).resolve().parents[2]
LEGAL = ROOT / "examples" / "corpus" / "legal"


def passages() -> list[str]:
    """Real paragraphs of the demo's contracts, short and long (up to the model's limit)."""
    texts = [p.strip() for f in sorted(LEGAL.glob("*.md")) for p in f.read_text().split("\n\n")]
    return [t for t in texts if len(t) > 40][:48]


def st_modules(*names: str) -> list[Any]:
    """sentence-transformers' module classes, where this version keeps them."""
    import importlib

    try:
        found = importlib.import_module("sentence_transformers.sentence_transformer.modules")
    except ImportError:  # before sentence-transformers 6
        found = importlib.import_module("sentence_transformers.models")
    return [getattr(found, name) for name in names]


def dimension(transformer: Any) -> int:
    """The token embeddings' size (the method's name changed in sentence-transformers 6)."""
    get = getattr(transformer, "get_embedding_dimension", None)
    return int((get or transformer.get_word_embedding_dimension)())


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEmbedder(runtime="torch").embed_passages(passages())


def test_onnx_gives_torchs_vectors(cache: Path, torch_vectors: np.ndarray) -> None:
    onnx = SentenceTransformerEmbedder(runtime="onnx", cache_dir=cache)
    assert onnx.backend == "onnx" and onnx.precision == "fp32"
    vectors = onnx.embed_passages(passages())
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert float((vectors * torch_vectors).sum(axis=1).min()) > 0.9999
    # queries too, with their prefix, in the caller's order
    prefixed = SentenceTransformerEmbedder(runtime="onnx", cache_dir=cache, query_prefix="q: ")
    reference = SentenceTransformerEmbedder(runtime="torch", query_prefix="q: ")
    questions = ["notice period?", "Who pays the rent, and when is it due each month?"]
    both = (prefixed.embed_queries(questions) * reference.embed_queries(questions)).sum(axis=1)
    assert float(both.min()) > 0.9999


def test_int8_is_close_but_another_precision(cache: Path, torch_vectors: np.ndarray) -> None:
    int8 = SentenceTransformerEmbedder(runtime="onnx-int8", cache_dir=cache)
    assert int8.backend == "onnx-int8" and int8.precision == "int8"
    cosines = (int8.embed_passages(passages()) * torch_vectors).sum(axis=1)
    assert float(cosines.mean()) > 0.98 and float(cosines.min()) > 0.95
    assert float(cosines.min()) < 0.9999  # not the same vectors: it must not mix with fp32


def test_an_export_is_made_once_and_reused(cache: Path) -> None:
    SentenceTransformerEmbedder(runtime="onnx", cache_dir=cache).embed_queries(["x"])
    exports = sorted(cache.rglob("model.onnx"))
    stamps = [p.stat().st_mtime_ns for p in exports]
    again = SentenceTransformerEmbedder(runtime="onnx", cache_dir=cache)
    again.embed_queries(["y"])
    assert sorted(cache.rglob("model.onnx")) == exports
    assert [p.stat().st_mtime_ns for p in exports] == stamps
    assert not [p for p in cache.rglob("*") if p.suffix not in (".onnx", "") or "tmp" in p.name]


def test_other_poolings_match_torch(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    Pooling, Transformer = st_modules("Pooling", "Transformer")
    folder = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    for mode in ("cls", "max"):
        transformer = Transformer(str(folder))
        model = SentenceTransformer(
            modules=[transformer, Pooling(dimension(transformer), mode)],
            device="cpu",
        )
        texts = passages()[:8]
        expected = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
        encoder = OnnxEncoder(model, folder, tmp_path / mode, quantized=False)
        cosines = (encoder.encode(texts, normalize=True) * expected).sum(axis=1)
        assert float(cosines.min()) > 0.9999, mode


def test_a_model_the_onnx_path_cannot_pool_is_a_one_line_error(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    Dense, Pooling, Transformer = st_modules("Dense", "Pooling", "Transformer")
    transformer = Transformer(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    size = dimension(transformer)
    model = SentenceTransformer(
        modules=[transformer, Pooling(size, "mean"), Dense(size, 8)], device="cpu"
    )
    with pytest.raises(ConfigError, match="EMBEDDING_RUNTIME=torch") as error:
        OnnxEncoder(model, tmp_path, tmp_path, quantized=False)
    assert "\n" not in str(error.value)


def test_auto_is_onnx_for_fp32_and_follows_the_collections_precision() -> None:
    assert concrete_runtime("auto", "fp32") == "onnx"
    assert concrete_runtime("auto", "int8") == "onnx-int8"
    assert concrete_runtime("torch", "int8") == "torch"
    with pytest.raises(ConfigError, match="unknown embedding runtime"):
        SentenceTransformerEmbedder(runtime="tensorrt")
    auto = SentenceTransformerEmbedder()
    assert auto.precision == "fp32" and auto.with_precision("int8").backend == "onnx-int8"
    fixed = SentenceTransformerEmbedder(runtime="torch")
    assert fixed.with_precision("int8") is fixed  # an explicit runtime is never switched


def test_int8_and_fp32_vectors_never_share_a_collection(cache: Path) -> None:
    settings = Settings(embedding_runtime="onnx-int8")
    int8 = SentenceTransformerEmbedder.from_settings(settings)
    report = ingest_paths([LEGAL], "legal", settings=settings, embedder=int8)
    assert report.ok and report.chunks_embedded > 0
    with Pipeline(settings, embedder=int8) as qa:
        assert qa.retriever.check().embedding_precision == "int8"
        assert qa.retrieve("notice period of the lease", top_k=1)
    # an fp32 runtime named explicitly is refused, in one line naming the fix
    torch_settings = settings.replaced(**{"embedding_runtime": "torch"})
    with Pipeline(torch_settings) as qa, pytest.raises(EmbeddingMismatchError) as error:
        qa.retrieve("notice period", top_k=1)
    assert "int8" in str(error.value) and "ADAPTRAG_EMBEDDING_RUNTIME=auto" in str(error.value)
    with pytest.raises(EmbeddingMismatchError):
        ingest_paths([LEGAL], "legal", settings=torch_settings)
    # auto follows the collection: it reads and extends it with int8 vectors
    auto_settings = settings.replaced(**{"embedding_runtime": "auto"})
    with Pipeline(auto_settings) as qa:
        assert qa.retrieve("notice period of the lease", top_k=1)
        assert qa.retriever.embedder.precision == "int8"
    # and so does the server's, whose embedder is wrapped to coalesce concurrent queries
    from adaptrag.server.coalesce import CoalescingEmbedder

    for served in (settings, auto_settings):
        wrapped = CoalescingEmbedder(SentenceTransformerEmbedder.from_settings(served))
        with Pipeline(served, embedder=wrapped) as qa:
            assert qa.retrieve("notice period of the lease", top_k=1)
            assert isinstance(qa.retriever.embedder, CoalescingEmbedder)
            assert qa.retriever.embedder.precision == "int8"


def test_an_fp32_collection_keeps_its_fingerprint() -> None:
    # Collections made before the precision was recorded hold fp32 vectors: their records
    # read as fp32, and their fingerprint (what adapters and eval reports name) is unchanged.
    record = CollectionSpec("m", 384, created_at="then").to_dict()
    del record["embedding_precision"]
    old = CollectionSpec.from_dict(record)
    assert old.embedding_precision == "fp32"
    assert old.fingerprint() == CollectionSpec("m", 384).fingerprint()
    assert CollectionSpec("m", 384, embedding_precision="int8").fingerprint() != (old.fingerprint())
