"""The optional reranking stage, with a small real cross-encoder the test builds and saves
(random weights: what is tested is that its scores decide the order, not its quality)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.corpora import pipeline_over

from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ModelLoadError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.retrieval.reranker import CrossEncoderReranker
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

QUESTION = "How long does confidentiality last?"


@pytest.fixture(scope="module")
def cross_encoder(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("cross-encoder")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=embedder.model.tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    config.num_labels = 1  # one relevance score per (question, passage) pair
    BertForSequenceClassification(config).save_pretrained(folder)
    embedder.model.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reranked(
    indexed_corpus: Settings,
    cross_encoder: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Pipeline]:
    with pipeline_over(
        indexed_corpus,
        embedder,
        local_generator,
        reranker_model=str(cross_encoder),
        rerank_candidates=6,
        max_new_tokens=4,
    ) as pipeline:
        yield pipeline


def test_the_cross_encoder_orders_the_candidates_and_the_best_top_k_are_kept(
    reranked: Pipeline, cross_encoder: Path
) -> None:
    store = reranked.retriever.store
    with Pipeline(
        reranked.settings.replaced(**{"reranker_model": None}),
        embedder=reranked.retriever.embedder,
        store=store,
    ) as plain:
        candidates = plain.retrieve(QUESTION, top_k=6, merge_adjacent=False, lead_chunk=False)
    expected = CrossEncoderReranker(str(cross_encoder)).rerank(QUESTION, candidates)[:2]
    found = reranked.retrieve(QUESTION, top_k=2, merge_adjacent=False, lead_chunk=False)
    assert [s.chunk_id for s in found] == [s.chunk_id for s in expected]
    assert [s.score for s in found] == pytest.approx([s.score for s in expected])
    assert found[0].score >= found[1].score


def test_the_answer_reports_what_reranking_cost(reranked: Pipeline) -> None:
    answer = reranked.ask(QUESTION, backend="local")
    assert answer.timings["rerank_ms"] > 0
    assert reranked.retriever.reranker is not None


def test_a_reranker_that_cannot_load_is_one_line() -> None:
    with pytest.raises(ModelLoadError, match="cannot load reranker model 'no/such-model'"):
        CrossEncoderReranker("no/such-model").rerank("q", [_source()])


def _source() -> Source:
    return Source("d", "c", "text", 1.0)
