"""Pages right everywhere: consecutive chunks merged at retrieval carry every page they
span, and a citation and the grounding verdict name the page that holds the cited words,
through Python, the CLI, HTTP, the OpenAI endpoint's `adaptrag` field and LangChain."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.documents import pages_pdf
from helpers.fake_anthropic import FakeAnthropic
from helpers.server import ADMIN, FINANCE, KEYS, server_settings, serving
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.ingest import ingest_paths
from adaptrag.langchain import as_retriever
from adaptrag.rag import Pipeline
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

QUESTION = "How long is the Quillmark warranty?"
REPLY = "The Quillmark warranty lasts 36 months from the date of purchase [1]."


def test_a_merged_source_knows_the_page_of_each_of_its_words() -> None:
    merged = Source(
        "manual.pdf",
        "c0",
        "Install it on a shelf.\nThe warranty lasts 36 months.\nReturns within 30 days.",
        1.0,
        {"page": 1, "page_starts": [[0, 1], [23, 2], [53, 3]]},
    )
    assert merged.pages == [1, 2, 3] and merged.label == "manual.pdf pp. 1-3"
    assert [merged.page_at(0), merged.page_at(30), merged.page_at(60)] == [1, 2, 3]
    assert merged.page_of("the WARRANTY lasts") == 2 and merged.page_of("30 days") == 3
    assert merged.page_of("not in it") == 1  # not found: the page it starts on
    single = Source("manual.pdf", "c1", "x", 1.0, {"page": 4})
    assert (single.pages, single.label, single.page_of("x")) == ([4], "manual.pdf p. 4", 4)


@pytest.fixture
def manual(tmp_path: Path, embedder: SentenceTransformerEmbedder, models_dir: Path) -> Settings:
    """The three-page manual, ingested (a chunk per page); answers from Claude (the fake)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    pages_pdf(folder / "manual.pdf")
    settings = server_settings(tmp_path, models_dir)
    ingest_paths([folder], "products", settings=settings, embedder=embedder)
    return settings


@pytest.fixture
def claude_replies(claude_env: FakeAnthropic) -> Iterator[FakeAnthropic]:
    claude_env.reply = lambda body: REPLY
    yield claude_env


def _check_answer(answer: dict[str, Any]) -> None:
    """The answer (as JSON): one merged source of the three pages, cited on page 2."""
    (source,) = answer["sources"]
    assert source["pages"] == [1, 2, 3] and source["label"] == "manual.pdf pp. 1-3"
    assert answer["citations"][0]["page"] == 2
    # Where the cited words stand on page 2: one box, inside the page, near its top.
    (box,) = answer["citations"][0]["boxes"]
    assert box["page"] == 2 and 0 <= box["x0"] < box["x1"] <= 1000
    assert 0 < box["y0"] < box["y1"] < 200
    (value,) = answer["grounding"]["values"]
    assert value["text"] == "36 months" and value["pages"] == [2]


def test_the_cited_page_is_named_through_python_and_langchain(
    manual: Settings, claude_replies: FakeAnthropic, embedder: SentenceTransformerEmbedder
) -> None:
    with Pipeline(manual, embedder=embedder) as qa:
        answer = qa.ask(QUESTION, backend="claude")
        _check_answer(answer.to_dict())
        (document,) = as_retriever(qa, k=3).invoke(QUESTION)
    assert document.metadata["pages"] == [1, 2, 3]
    assert document.metadata["label"] == "manual.pdf pp. 1-3"


def test_the_cited_page_is_named_by_the_cli(
    manual: Settings, claude_replies: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTRAG_DATA_DIR", str(manual.data_dir))
    monkeypatch.setenv("ADAPTRAG_QDRANT_URL", str(manual.store.qdrant_url))
    monkeypatch.setenv("ADAPTRAG_COLLECTION", manual.store.collection)
    runner = CliRunner()
    as_json = runner.invoke(app, ["ask", QUESTION, "--backend", "claude", "--json"])
    assert as_json.exit_code == 0, as_json.output
    _check_answer(json.loads(as_json.stdout))
    shown = runner.invoke(app, ["ask", QUESTION, "--backend", "claude"])
    assert "[1] manual.pdf pp. 1-3" in shown.stdout
    assert "Cited: [1] manual.pdf p. 2" in shown.stdout


def test_the_cited_page_is_named_over_http_and_in_the_openai_field(
    manual: Settings,
    claude_replies: FakeAnthropic,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> None:
    with serving(manual, embedder, local_generator, KEYS) as served, served.client(ADMIN) as client:
        asked = client.post("/v1/ask", json={"question": QUESTION, "backend": "claude"})
        chat = client.post(
            "/v1/chat/completions",
            json={
                "model": "adaptrag/products:claude",
                "messages": [{"role": "user", "content": QUESTION}],
            },
        )
        page = client.get(
            "/v1/documents/manual.pdf/pages/2", params={"domain": "products", "width": 600}
        )
        beyond = client.get("/v1/documents/manual.pdf/pages/9", params={"domain": "products"})
        wide = client.get(
            "/v1/documents/manual.pdf/pages/2", params={"domain": "products", "width": 9000}
        )
        with served.client(FINANCE) as other:
            refused = other.get("/v1/documents/manual.pdf/pages/2", params={"domain": "products"})
    assert asked.status_code == 200 and chat.status_code == 200, (asked.text, chat.text)
    _check_answer(asked.json())
    _check_answer(chat.json()["adaptrag"])
    # The cited page as an image to draw the citation's boxes on, 600 pixels wide.
    from PIL import Image

    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(page.content))
    assert image.size[0] == 600 and image.size[1] > 600  # an A4 page, portrait
    assert beyond.status_code == 404 and "no page 9: the document has 3 pages" in beyond.text
    assert wide.status_code == 422 and refused.status_code == 403
