"""Registry adapters served by an OpenAI-compatible server (the fake vLLM, real openai SDK)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.adapters import random_adapter, write_qa
from helpers.fake_openai import BASE_MODEL, FakeOpenAI, Lora
from typer.testing import CliRunner

from adaptrag.adapters import AdapterRegistry, AdapterRuntime, add_adapter
from adaptrag.adapters.served import same_base
from adaptrag.cli import app
from adaptrag.eval.runner import run_eval
from adaptrag.rag import Pipeline
from adaptrag.rag.answering.router import AdapterChoice
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.base import ServedModel
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings import Settings

QUESTION = "How much notice is needed to terminate the Northwind lease?"


@pytest.fixture(scope="module")
def registered(
    indexed_legal: Settings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Two adapters with random weights for legal (v1, v2; v1 active)."""
    folders = tmp_path_factory.mktemp("peft")
    for seed in (1, 2):
        add_adapter(
            random_adapter(models_dir, folders / str(seed), seed), "legal", settings=indexed_legal
        )
    AdapterRegistry(indexed_legal.data_dir).activate("legal/v1")
    return indexed_legal


@pytest.fixture
def served(registered: Settings, openai_env: FakeOpenAI) -> Settings:
    return registered.replaced(**{"openai_base_url": openai_env.url})


def loads(fake: FakeOpenAI) -> list[dict]:
    return [r["body"] for r in fake.requests if r["path"] == "/v1/load_lora_adapter"]


def test_the_domains_adapter_is_loaded_once_and_asked_for_by_its_served_name(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    with Pipeline(served) as qa:
        first = qa.ask(QUESTION, domain="legal", backend="openai")
        again = qa.ask(QUESTION, domain="legal")  # auto: the server takes the local model's place
    assert first.adapter == "legal/v1" and first.model == "legal-v1"
    assert first.route == "openai: legal's active adapter"
    assert again.backend == "openai" and again.adapter is None  # random weights: no gate passed
    path = AdapterRegistry(served.data_dir).get("legal/v1").path
    assert loads(openai_env) == [{"lora_name": "legal-v1", "lora_path": str(path)}]
    assert openai_env.chat_requests()[0]["model"] == "legal-v1"
    assert openai_env.chat_requests()[1]["model"] == BASE_MODEL


def test_a_mixed_batch_and_a_stream_name_each_rows_adapter(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    with Pipeline(served) as qa:
        answers = [
            *qa.ask_many([QUESTION], adapter="legal/v2", backend="openai"),
            *qa.ask_many([QUESTION], adapter="base", backend="openai"),
        ]
        *_, streamed = list(qa.stream(QUESTION, adapter="legal/v1", backend="openai"))
    assert [a.model for a in answers] == ["legal-v2", BASE_MODEL]
    assert getattr(streamed, "model", None) == "legal-v1"
    assert {b["lora_name"] for b in loads(openai_env)} == {"legal-v1", "legal-v2"}


def test_a_restarted_server_gets_the_adapter_loaded_again(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    with Pipeline(served) as qa:
        assert qa.ask(QUESTION, adapter="legal/v1", backend="openai").model == "legal-v1"
        openai_env.loras.clear()  # vLLM restarted: adapters loaded at run time are gone
        again = qa.ask(QUESTION, adapter="legal/v1", backend="openai")
        openai_env.loras.clear()
        *deltas, streamed = list(qa.stream(QUESTION, adapter="legal/v1", backend="openai"))
    assert again.model == "legal-v1" and getattr(streamed, "model", None) == "legal-v1"
    assert "".join(str(d) for d in deltas).strip() == getattr(streamed, "text", None)
    assert [b["lora_name"] for b in loads(openai_env)] == ["legal-v1"] * 3
    refused = [b["model"] for b in openai_env.chat_requests()]
    assert refused == ["legal-v1"] * 5  # answered, refused + answered, refused + answered


def test_adapters_the_server_declares_are_used_without_loading(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    openai_env.runtime_loading = False  # vLLM started with --lora-modules, no runtime updates
    openai_env.loras["legal-v1"] = Lora("/adapters/legal/v1")
    openai_env.loras["contracts"] = Lora("/mnt/adapters/legal/v2")  # found by its path
    with Pipeline(served) as qa:
        assert qa.ask(QUESTION, adapter="legal/v1", backend="openai").model == "legal-v1"
        assert qa.ask(QUESTION, adapter="legal/v2", backend="openai").model == "contracts"
    assert loads(openai_env) == []


def test_an_adapter_the_server_cannot_serve_is_a_one_line_error(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    openai_env.runtime_loading = False
    with Pipeline(served) as qa, pytest.raises(ConfigError) as caught:
        qa.ask(QUESTION, adapter="legal/v2", backend="openai")
    message = str(caught.value)
    assert "does not load adapters at run time" in message and "--lora-modules legal-v2=" in message
    assert "\n" not in message and openai_env.chat_requests() == []


def test_a_served_base_model_that_is_not_the_adapters_base_is_refused(
    served: Settings, openai_env: FakeOpenAI
) -> None:
    openai_env.base_model = "meta-llama/Llama-3.2-1B-Instruct"
    try:
        with Pipeline(served) as qa, pytest.raises(ConfigError) as caught:
            qa.ask(QUESTION, adapter="legal/v1", backend="openai")
    finally:
        openai_env.base_model = BASE_MODEL
    message = str(caught.value)
    assert (
        f"trained on '{BASE_MODEL}'" in message and "'meta-llama/Llama-3.2-1B-Instruct'" in message
    )
    assert loads(openai_env) == [] and openai_env.chat_requests() == []

    openai_env.runtime_loading = False  # declared, but on another base: refused too
    openai_env.loras["legal-v1"] = Lora("/adapters/legal/v1", parent="other-base")
    with Pipeline(served) as qa, pytest.raises(ConfigError, match="on base 'other-base'"):
        qa.ask(QUESTION, adapter="legal/v1", backend="openai")


def test_the_base_check_matches_an_id_or_the_same_model_folder() -> None:
    served = ServedModel("smol", root="/models/SmolLM2-135M-Instruct")
    assert same_base(BASE_MODEL, served) and same_base("smol", served)
    assert not same_base("HuggingFaceTB/SmolLM2-360M-Instruct", served)
    assert not same_base("", served)


def test_a_served_adapter_answers_as_the_same_adapter_does_locally(
    served: Settings, openai_env: FakeOpenAI, models_dir: Path
) -> None:
    """The fake server generates with the real model and the adapter folder it was told to
    load (what vLLM does), so the answer over the wire must equal the in-process one."""
    runtime = AdapterRuntime(AdapterRegistry(served.data_dir))
    server_model = LocalGenerator(models_dir=models_dir)

    def generate(body: dict, lora: Lora | None) -> str:
        system, user = (m["content"] for m in body["messages"])
        adapter = None
        if lora is not None:  # the adapter as the server has it: its folder, nothing else
            meta = json.loads((Path(lora.path) / "adaptrag.json").read_text())
            adapter = AdapterChoice(
                "server/v1", "", False, lora.path, BASE_MODEL, meta["base_fingerprint"]
            )
        done = runtime.generate_many(
            server_model, [Prompt(system, user, ())], [adapter], max_new_tokens=body["max_tokens"]
        )
        return done[0].text

    openai_env.reply = generate
    free = served.replaced(**{"decoding": "free"})  # as an inference server decodes
    with Pipeline(free) as qa:
        remote = qa.ask(QUESTION, adapter="legal/v1", backend="openai")
        local = qa.ask(QUESTION, adapter="legal/v1", backend="local")
        base = qa.ask(QUESTION, adapter="base", backend="openai")
    assert remote.text == local.text and remote.text != base.text
    assert [s.chunk_id for s in remote.sources] == [s.chunk_id for s in local.sources]


@pytest.fixture
def cli_env(served: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The command line over the registered data dir, with the fake server configured."""
    monkeypatch.setenv("ADAPTRAG_DATA_DIR", str(served.data_dir))
    monkeypatch.setenv("ADAPTRAG_COLLECTION", served.store.collection)
    monkeypatch.setenv("ADAPTRAG_MAX_NEW_TOKENS", "12")
    return served


def test_ask_on_the_command_line_with_and_without_an_adapter(
    cli_env: Settings, openai_env: FakeOpenAI
) -> None:
    runner = CliRunner()
    args = ["ask", QUESTION, "--backend", "openai", "--domain", "legal", "--json"]
    with_adapter = runner.invoke(app, [*args, "--adapter", "legal/v2"])
    assert with_adapter.exit_code == 0, with_adapter.output
    answer = json.loads(with_adapter.stdout)
    assert answer["backend"] == "openai" and answer["adapter"] == "legal/v2"
    assert answer["model"] == "legal-v2" and answer["text"].endswith("[1]")
    base = runner.invoke(app, [*args, "--adapter", "base"])
    assert base.exit_code == 0, base.output
    assert json.loads(base.stdout)["model"] == BASE_MODEL
    assert [b["model"] for b in openai_env.chat_requests()] == ["legal-v2", BASE_MODEL]

    openai_env.base_model = "meta-llama/Llama-3.2-1B-Instruct"
    try:
        refused = runner.invoke(app, [*args, "--adapter", "legal/v1"])
    finally:
        openai_env.base_model = BASE_MODEL
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "was trained on" in refused.stderr


def test_deleting_an_adapter_unloads_it_from_the_server(
    cli_env: Settings, openai_env: FakeOpenAI
) -> None:
    registry = AdapterRegistry(cli_env.data_dir)
    info = add_adapter(registry.get("legal/v2").path, "legal", settings=cli_env, name="spare")
    with Pipeline(cli_env) as qa:
        qa.ask(QUESTION, adapter=info.ref, backend="openai")
    assert "spare-v1" in openai_env.loras
    result = CliRunner().invoke(app, ["adapters", "delete", info.ref, "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "deleted": "spare/v1",
        "server": "unloaded spare-v1 from the inference server",
    }
    assert "spare-v1" not in openai_env.loras
    assert [r["body"] for r in openai_env.requests if "unload" in r["path"]] == [
        {"lora_name": "spare-v1"}
    ]


def test_an_adapter_is_scored_on_the_serving_stack(
    served: Settings, openai_env: FakeOpenAI, tmp_path: Path
) -> None:
    report = run_eval(
        write_qa(tmp_path / "qa.jsonl"),
        tmp_path / "run",
        settings=served,
        backend="openai",
        adapter="legal/v1",
        show_progress=False,
    )
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 5 and {r["backend"] for r in rows} == {"openai"}
    assert {r["model"] for r in rows} == {"legal-v1"}
    assert report["summary"]["rows"] == 5 and report["summary"]["errors"] == 0
    assert {b["model"] for b in openai_env.chat_requests()} == {"legal-v1"}
