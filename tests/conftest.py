"""Shared fixtures: an isolated environment, and real models loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from helpers.corpora import index_corpus, write_corpus
from helpers.fake_anthropic import API_KEY, FakeAnthropic, cite_first_source
from helpers.fake_openai import FakeOpenAI

import adaptrag
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings

# tests/test_wheel.py runs some suites in a fresh virtualenv: they must test the wheel
# installed there, not this checkout.
if expected := os.environ.get("ADAPTRAG_EXPECT_INSTALLED"):
    assert adaptrag.__file__.startswith(expected), (adaptrag.__file__, expected)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session: the default generator is dequantized once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_dir: Path) -> Path:
    """No ADAPTRAG_* or ANTHROPIC_* setting leaks in from the developer's shell; data goes
    to a tmp dir, converted models to the session's cache."""
    for name in list(os.environ):
        if name.startswith(("ADAPTRAG_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ADAPTRAG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ADAPTRAG_MODEL_CACHE_DIR", str(models_dir))
    return data_dir


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default embedding model (all-MiniLM-L6-v2 from its PyPI package), loaded once."""
    model = SentenceTransformerEmbedder()
    assert model.dimension == 384
    return model


@pytest.fixture(scope="session")
def local_generator(models_dir: Path) -> LocalGenerator:
    """The real default generator (SmolLM2-135M-Instruct from its GGUF), loaded once."""
    generator = LocalGenerator(models_dir=models_dir)
    assert generator.tokenizer.chat_template
    return generator


@pytest.fixture(scope="session")
def anthropic_server() -> Iterator[FakeAnthropic]:
    """The fake Messages API, one per session."""
    server = FakeAnthropic().start()
    yield server
    server.stop()


@pytest.fixture
def claude_env(anthropic_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    """The real SDK pointed at the fake API with a valid key; the fake starts clean."""
    anthropic_server.requests.clear()
    anthropic_server.failures.clear()
    anthropic_server.delay_s = 0.0
    anthropic_server.hold = None
    anthropic_server.arrived.clear()
    anthropic_server.stream_error = None
    anthropic_server.cache_read_input_tokens = 0
    anthropic_server.prompt_cache = False
    anthropic_server._cached_prefixes.clear()
    anthropic_server.reply = cite_first_source
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    return anthropic_server


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    """The fake OpenAI-compatible (vLLM) server, one per session."""
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def openai_env(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The real openai SDK pointed at the fake server (ADAPTRAG_OPENAI_BASE_URL); the fake
    starts clean, and retries wait little."""
    openai_server.reset()
    monkeypatch.setenv("ADAPTRAG_OPENAI_BASE_URL", openai_server.url)
    return openai_server


@pytest.fixture
def settings(isolated_env: Path) -> Settings:
    """Default settings over the tmp data dir."""
    return Settings(data_dir=isolated_env)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small folder of documents in several formats, written for the tests."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture(scope="module")
def indexed_corpus(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
) -> Settings:
    """The test corpus ingested once per module (`legal`, and one `finance` document)."""
    tmp = tmp_path_factory.mktemp("indexed")
    settings = Settings(data_dir=tmp / "data", model_cache_dir=models_dir)
    return index_corpus(tmp, settings, embedder)[1]
