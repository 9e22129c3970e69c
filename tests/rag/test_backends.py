"""The backend registry: a third party's backend, installed as a real package (a dist-info
with an `adaptrag.backends` entry point on the path), answers through Python, `/v1/ask`
and an OpenAI model id, and every list of backend names knows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.server import ADMIN, KEYS, SAMPLE, server_settings, serving

from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators import Backend, backends, make_generator, register_backend, registry
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings, load_settings

TOY_PACKAGE = '''
"""A toy backend: it answers with the first words of its first source, cited."""
from adaptrag.rag.generators import Backend, Generation


class ToyGenerator:
    backend = "toy"

    def __init__(self, settings):
        self.settings = settings

    @property
    def model(self):
        return "toy-echo-1"

    def prompt_budget(self, max_new_tokens):
        return 4000

    def count_tokens(self, prompt):
        return len(prompt.user.split())

    def load(self):
        pass

    def generate(self, prompt, *, max_new_tokens):
        words = prompt.sources[0].text.split()[:max_new_tokens]
        return Generation("TOY " + " ".join(words) + " [1]", self.model)

    def generate_many(self, prompts, *, max_new_tokens):
        return [self.generate(p, max_new_tokens=max_new_tokens) for p in prompts]

    def stream(self, prompt, *, max_new_tokens):
        done = self.generate(prompt, max_new_tokens=max_new_tokens)
        yield done.text
        yield done

    def close(self):
        pass


BACKEND = Backend("toy", ToyGenerator, description="echoes its first source")
'''


@pytest.fixture
def toy_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy backend as an installed distribution (and a broken one beside it)."""
    site = tmp_path / "site"
    info = site / "toy_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "toy_backend.py").write_text(TOY_PACKAGE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[adaptrag.backends]\ntoy = toy_backend:BACKEND\nbroken = toy_backend:missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    registry.forget_installed_backends()
    yield
    monkeypatch.undo()
    registry.forget_installed_backends()


def test_an_installed_backend_answers_through_python(
    toy_installed: None, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    assert "toy" in backends() and "broken" not in backends()  # a broken plugin is left out
    settings = Settings(data_dir=tmp_path / "data", backend="toy")
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    with Pipeline(settings, embedder=embedder) as qa:
        answer = qa.ask("What is the annual base rent?")
    assert answer.backend == "toy" and answer.model == "toy-echo-1"
    assert answer.text.startswith("TOY ") and answer.citations[0].valid
    assert answer.route == "requested"
    # An adapter runs only where adapters run: the toy backend says it takes none.
    with Pipeline(settings, embedder=embedder) as qa, pytest.raises(ConfigError, match="toy"):
        qa.ask("rent?", adapter="base")


def test_an_installed_backend_answers_over_http_and_as_an_openai_model(
    toy_installed: None,
    tmp_path: Path,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    local_generator: LocalGenerator,
) -> None:
    settings = server_settings(tmp_path, models_dir)
    ingest_paths([SAMPLE / "legal"], "legal", settings=settings, embedder=embedder)
    with (
        serving(settings, embedder, local_generator, KEYS) as served,
        served.client(ADMIN) as client,
    ):
        asked = client.post("/v1/ask", json={"question": "rent?", "backend": "toy"})
        chat = client.post(
            "/v1/chat/completions",
            json={
                "model": "adaptrag/legal:toy",
                "messages": [{"role": "user", "content": "rent?"}],
            },
        )
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        unknown = client.post("/v1/ask", json={"question": "rent?", "backend": "nope"})
    assert asked.status_code == 200 and asked.json()["backend"] == "toy"
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"].startswith("TOY ")
    assert "adaptrag/legal:toy" in models
    assert unknown.status_code == 422 and "toy" in unknown.json()["error"]  # names them all


def test_backend_names_are_checked_everywhere_against_the_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAPTRAG_BACKEND", "nope")
    with pytest.raises(ConfigError, match="unknown backend 'nope'; use one of auto, local"):
        load_settings()
    monkeypatch.delenv("ADAPTRAG_BACKEND")
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        make_generator("nope", Settings(data_dir=tmp_path))
    with pytest.raises(ConfigError, match="not 'auto'"):
        register_backend(Backend("auto", lambda settings: None))  # type: ignore[arg-type,return-value]


def test_a_registered_backend_wins_over_an_installed_one_of_its_name(
    toy_installed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    built = []

    def factory(settings: Settings) -> LocalGenerator:
        built.append(settings)
        return LocalGenerator(models_dir=tmp_path)  # cheap: the model loads on first use

    register_backend(Backend("toy", factory))
    make_generator("toy", Settings(data_dir=tmp_path))
    assert len(built) == 1
