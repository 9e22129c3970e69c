"""A pipeline over the indexed test corpus, shared by the modules of tests/rag that ask
questions end to end (one per module, answers of up to 24 tokens)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.corpora import pipeline_over

from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings


@pytest.fixture(scope="module")
def qa(
    indexed_corpus: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Pipeline]:
    with pipeline_over(indexed_corpus, embedder, local_generator, max_new_tokens=24) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def local_qa(
    indexed_corpus: Settings,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> Iterator[Pipeline]:
    """The pipeline answering with the local model only, up to 12 tokens (LangChain's tests)."""
    with pipeline_over(
        indexed_corpus, embedder, local_generator, max_new_tokens=12, backend="local"
    ) as pipeline:
        yield pipeline
