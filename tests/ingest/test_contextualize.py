"""Generated chunk context at ingest (`--contextualize`): Claude through the real SDK and a
fake Messages API with prompt caching, and the local model; cached by content."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_anthropic import FakeAnthropic
from helpers.fake_openai import BASE_MODEL, FakeOpenAI
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest import ingest_paths
from adaptrag.ingest.contextualize import CACHE_FILE, ContextCache, Contextualizer
from adaptrag.rag import Pipeline, Query
from adaptrag.rag.errors import BackendError, ConfigError
from adaptrag.rag.generators.claude import Prices
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import store_for

PARAGRAPH = (
    "The tenant pays the rent on the first day of each month into the account the landlord "
    "names, and keeps the premises in good repair at its own cost during the term. "
)
CODE_WORDS = {"Lease": "zebrafruit", "Services": "quokkaline"}


def write_documents(root: Path) -> Path:
    root.mkdir()
    for title in CODE_WORDS:
        clauses = "".join(f"Clause {n}. {PARAGRAPH}\n\n" for n in range(1, 5))
        (root / f"{title.lower()}.md").write_text(f"# {title}\n\n{clauses}")
    return root


def situate(body: dict[str, Any]) -> str:
    """The fake model's context: a code word that only the document's title implies."""
    system = "".join(block["text"] for block in body["system"])
    title = re.search(r"<document>\n(\w+)", system)
    assert title is not None
    return f"This part belongs to the {CODE_WORDS[title.group(1)]} agreement."


@pytest.fixture
def claude(claude_env: FakeAnthropic) -> FakeAnthropic:
    claude_env.prompt_cache = True
    claude_env.reply = situate
    return claude_env


def small_chunks(settings: Settings, **changes: Any) -> Settings:
    return settings.replaced(
        **{"chunk_tokens": 40, "chunk_overlap_tokens": 0, "contextualize": "claude", **changes}
    )


def test_claude_writes_one_context_per_chunk_reading_each_document_from_the_cache(
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    claude: FakeAnthropic,
) -> None:
    folder = write_documents(tmp_path / "docs")
    settings = small_chunks(settings)
    report = ingest_paths([folder], "legal", settings=settings, embedder=embedder)
    assert report.ok and report.chunks_embedded >= 6
    context = report.context
    assert context is not None
    asked = [r["body"] for r in claude.requests]
    assert context["generated"] == len(asked) == report.chunks_embedded
    assert context["cached"] == 0 and context["backend"] == "claude"
    # The whole document is the system prompt, marked for caching; the chunk is the question.
    for body in asked:
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert PARAGRAPH.strip() in body["system"][-1]["text"]
        assert "<chunk>" in body["messages"][0]["content"]
    # One cache write per document; every other chunk read the document from the cache.
    documents = {body["system"][-1]["text"] for body in asked}
    assert len(documents) == 2
    writes = context["cache_creation_input_tokens"]
    reads = context["cache_read_input_tokens"]
    per_document = {len(text) // 4 for text in documents}
    assert writes == sum(per_document) and reads > writes
    usage_cost = Prices().cost
    from adaptrag.rag.types import Usage

    expected = usage_cost(
        Usage(
            input_tokens=context["input_tokens"],
            output_tokens=context["output_tokens"],
            cache_read_input_tokens=reads,
            cache_creation_input_tokens=writes,
        )
    )
    assert context["cost_usd"] == pytest.approx(expected, rel=1e-6)

    # The context is indexed (a word only it holds finds the chunks); stored text is the chunk.
    with Pipeline(settings, embedder=embedder) as qa:
        sources = qa.retrieve(Query("zebrafruit", mode="sparse", top_k=10, merge_adjacent=False))
    assert sources and {s.doc_id for s in sources} == {"lease.md"}
    assert all("zebrafruit" not in s.text for s in sources)
    store = store_for(settings)
    try:
        spec = store.spec()
    finally:
        store.close()
    assert spec is not None and spec.generated_context == "claude"


def test_the_same_content_again_costs_nothing(
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    claude: FakeAnthropic,
) -> None:
    folder = write_documents(tmp_path / "docs")
    first = ingest_paths([folder], "legal", settings=small_chunks(settings), embedder=embedder)
    calls = len(claude.requests)
    # Another collection (a re-index): every context comes from the cache.
    again = ingest_paths(
        [folder], "legal", settings=small_chunks(settings, collection="copy"), embedder=embedder
    )
    assert len(claude.requests) == calls
    assert again.context is not None and first.context is not None
    assert again.context["generated"] == 0 and again.context["cost_usd"] == 0.0
    assert again.context["cached"] == first.context["generated"]
    assert (settings.data_dir / CACHE_FILE).is_file()


def test_a_collection_keeps_its_generated_context(
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    claude: FakeAnthropic,
) -> None:
    folder = write_documents(tmp_path / "docs")
    ingest_paths([folder], "legal", settings=small_chunks(settings), embedder=embedder)
    (folder / "more.md").write_text("# More\n\nAnother document.\n")
    with pytest.raises(ConfigError, match="generated chunk context 'claude', not 'none'") as error:
        ingest_paths(
            [folder],
            "legal",
            settings=small_chunks(settings, contextualize="none"),
            embedder=embedder,
        )
    assert "\n" not in str(error.value)


def test_without_an_anthropic_key_nothing_is_read(
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    folder = write_documents(tmp_path / "docs")
    with pytest.raises(ConfigError, match="no Anthropic API key"):
        ingest_paths([folder], "legal", settings=small_chunks(settings), embedder=embedder)
    assert store_for(settings).spec() is None


def test_the_cli_reports_what_the_contexts_cost(
    tmp_path: Path, settings: Settings, claude: FakeAnthropic
) -> None:
    folder = write_documents(tmp_path / "docs")
    env = {"ADAPTRAG_DATA_DIR": str(settings.data_dir), "ADAPTRAG_CHUNK_TOKENS": "40"}
    runner = CliRunner()
    args = ["ingest", str(folder), "--domain", "legal", "--contextualize", "claude"]
    human = runner.invoke(app, args, env=env)
    assert human.exit_code == 0, human.output
    assert re.search(r"chunk context by claude \(.+\): \d+ generated, 0 cached", human.output)
    again = runner.invoke(app, [*args, "--collection", "other", "--json"], env=env)
    data = json.loads(again.stdout)
    assert data["context"]["generated"] == 0 and data["context"]["cached"] > 0


def test_the_local_model_writes_contexts_too(
    tmp_path: Path, models_dir: Path, local_generator: Any
) -> None:
    """The local model (the real SmolLM2) situates a chunk; the cache keeps what it wrote."""
    from adaptrag.rag.types import Chunk, Document

    document = Document("lease.md", PARAGRAPH * 3, "Lease", "/data/lease.md", {"format": "md"})
    chunks = [Chunk("lease.md", n, PARAGRAPH.strip()) for n in range(2)]
    cache = ContextCache(tmp_path / CACHE_FILE)
    contextualizer = Contextualizer(local_generator, cache)
    contexts = contextualizer.contexts(document, chunks)
    assert all(context.strip() and "\n" not in context for context in contexts)
    assert contextualizer.usage.generated == 1 and contextualizer.usage.cached == 1
    assert contextualizer.usage.backend == "local" and contextualizer.usage.cost_usd == 0.0
    again = Contextualizer(local_generator, cache)
    assert again.contexts(document, chunks) == contexts and again.usage.generated == 0
    cache.close()


def test_an_inference_server_writes_contexts_and_an_absent_one_fails_before_reading(
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    openai_env: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--contextualize openai`: the document goes first in every prompt (what a server's
    prefix cache reuses), each chunk is asked for once, and the contexts are indexed."""

    def situate_served(body: dict[str, Any], lora: object) -> str:
        system = body["messages"][0]["content"]
        title = re.search(r"<document>\n(\w+)", system)
        assert title is not None and body["model"] == BASE_MODEL
        return f"This part belongs to the {CODE_WORDS[title.group(1)]} agreement."

    openai_env.reply = situate_served
    folder = write_documents(tmp_path / "docs")
    served = small_chunks(settings, contextualize="openai", openai_base_url=openai_env.url)
    report = ingest_paths([folder], "legal", settings=served, embedder=embedder)
    context = report.context
    assert context is not None and context["backend"] == "openai"
    assert context["model"] == BASE_MODEL and context["cost_usd"] == 0.0
    assert context["generated"] == len(openai_env.chat_requests()) == report.chunks_embedded
    with Pipeline(served, embedder=embedder) as qa:
        sources = qa.retrieve(Query("quokkaline", mode="sparse", top_k=10, merge_adjacent=False))
    assert sources and {s.doc_id for s in sources} == {"services.md"}

    down = small_chunks(
        settings,
        contextualize="openai",
        openai_base_url="http://127.0.0.1:9/v1",
        openai_max_retries=0,
        collection="down",
    )
    with pytest.raises(BackendError, match="cannot reach the inference server"):
        ingest_paths([folder], "legal", settings=down, embedder=embedder)
