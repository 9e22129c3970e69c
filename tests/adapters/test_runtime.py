"""Serving adapters: per-request switching, mixed batches, isolation under threads, routing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.adapters import random_adapter
from helpers.fake_anthropic import FakeAnthropic

from adaptrag.adapters import AdapterRegistry, AdapterRuntime, add_adapter, describe_adapters
from adaptrag.ingest import ingest_paths
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import build_prompt
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

PROMPT = build_prompt(
    "How much notice does the tenant give?",
    [Source("lease", "c1", "The tenant gives ninety days notice.", 1.0, {"title": "Lease"})],
)


@pytest.fixture(scope="module")
def registered(
    indexed_legal: Settings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Two adapters with random weights registered for legal and finance (legal active)."""
    folders = tmp_path_factory.mktemp("peft")
    for domain, seed in (("legal", 1), ("finance", 2)):
        path = random_adapter(models_dir, folders / domain, seed)
        add_adapter(path, domain, settings=indexed_legal)
    AdapterRegistry(indexed_legal.data_dir).activate("legal")
    return indexed_legal


@pytest.fixture
def served(
    registered: Settings, models_dir: Path
) -> Iterator[tuple[AdapterRuntime, LocalGenerator]]:
    """A fresh base model and runtime per test (adapters attach to the model they serve)."""
    yield (
        AdapterRuntime(AdapterRegistry(registered.data_dir)),
        LocalGenerator(models_dir=models_dir),
    )


def texts(runtime: AdapterRuntime, generator: LocalGenerator, refs: list[str | None]) -> list[str]:
    adapters = [None if ref is None else runtime.resolve(ref) for ref in refs]
    generations = runtime.generate_many(generator, [PROMPT] * len(refs), adapters, max_new_tokens=8)
    return [g.text for g in generations]


def test_each_adapter_changes_the_answer_and_base_stays_the_base(
    served: tuple[AdapterRuntime, LocalGenerator], local_generator: LocalGenerator
) -> None:
    runtime, generator = served
    base_before = local_generator.generate(PROMPT, max_new_tokens=8).text
    legal, finance, base = (
        texts(runtime, generator, [ref])[0] for ref in ("legal", "finance", None)
    )
    assert len({legal, finance, base}) == 3
    assert base == base_before  # the base model answers as if no adapter were loaded


def test_a_mixed_batch_gives_each_row_its_own_adapter(
    served: tuple[AdapterRuntime, LocalGenerator],
) -> None:
    runtime, generator = served
    alone = [texts(runtime, generator, [ref])[0] for ref in ("legal", "finance", None)]
    assert texts(runtime, generator, ["legal", "finance", None]) == alone


def test_concurrent_requests_never_see_another_adapters_weights(
    served: tuple[AdapterRuntime, LocalGenerator],
) -> None:
    runtime, generator = served
    expected = {ref: texts(runtime, generator, [ref])[0] for ref in ("legal", "finance", None)}
    results: list[tuple[str | None, str]] = []
    refs: list[str | None] = ["legal", "finance", None] * 3

    def ask(ref: str | None) -> None:
        results.append((ref, texts(runtime, generator, [ref])[0]))

    threads = [threading.Thread(target=ask, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(refs)
    assert all(text == expected[ref] for ref, text in results)


def test_the_lru_cap_unloads_and_reloads_without_changing_answers(
    registered: Settings, models_dir: Path
) -> None:
    wide = AdapterRuntime(AdapterRegistry(registered.data_dir))
    narrow = AdapterRuntime(AdapterRegistry(registered.data_dir), max_loaded=1)
    a, b = LocalGenerator(models_dir=models_dir), LocalGenerator(models_dir=models_dir)
    expected = [texts(wide, a, [ref])[0] for ref in ("legal", "finance", "legal")]
    assert [texts(narrow, b, [ref])[0] for ref in ("legal", "finance", "legal")] == expected
    assert len(narrow._loaded) == 1


def test_an_adapter_of_another_base_model_is_a_clear_error(
    registered: Settings, tmp_path: Path, models_dir: Path
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    # A real (tiny) other base model, saved locally with SmolLM2's tokenizer.
    other = tmp_path / "tiny-llama"
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(other)
    LocalGenerator(models_dir=models_dir).tokenizer.save_pretrained(other)
    adapter_dir = tmp_path / "tiny-adapter"
    get_peft_model(
        LlamaForCausalLM(config), LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
    ).save_pretrained(str(adapter_dir))

    with pytest.raises(ConfigError, match="does not fit base model"):
        add_adapter(adapter_dir, "legal", settings=registered, name="tiny")
    info = add_adapter(
        adapter_dir, "legal", settings=registered, name="tiny", base_model=str(other)
    )
    with Pipeline(registered) as qa, pytest.raises(ConfigError, match="was trained on base model"):
        qa.ask("notice?", domain="legal", adapter=info.ref)
    AdapterRegistry(registered.data_dir).delete(info.ref)


def test_routing_uses_the_domains_adapter_and_the_base_on_request(
    registered: Settings, claude_env: FakeAnthropic
) -> None:
    registry = AdapterRegistry(registered.data_dir)
    legal = registry.get("legal")
    with Pipeline(registered) as qa:
        local = qa.ask("How much notice ends the lease?", domain="legal", backend="local")
        assert local.adapter == legal.ref
        inferred = qa.ask("How much notice ends the Northwind lease?", backend="local")
        assert inferred.adapter == legal.ref  # domain taken from the retrieved chunks
        base = qa.ask("How much notice ends the lease?", domain="legal", adapter="base")
        assert base.adapter is None and base.route == "base model requested"
        forced = qa.ask("How much notice ends the lease?", adapter="finance")
        assert forced.adapter == registry.get("finance").ref

        # auto: an adapter without a winning score loses to Claude; with one, it answers.
        assert qa.ask("notice?", domain="legal", backend="auto").backend == "claude"
        registry.update_scores(legal, {"adapter": {"f1": 0.6}, "base": {"f1": 0.2}})
        routed = qa.ask("notice?", domain="legal", backend="auto")
        assert (routed.backend, routed.adapter) == ("local", legal.ref)
        registry.update_scores(legal, {})
        with pytest.raises(ConfigError, match="drop backend=claude"):
            qa.ask("notice?", backend="claude", adapter="legal")
        with pytest.raises(ConfigError, match="no adapter 'nope'"):
            qa.ask("notice?", adapter="nope")


def test_ask_many_mixes_adapters_in_one_batch(registered: Settings) -> None:
    with Pipeline(registered) as qa:
        answers = qa.ask_many(
            ["How much notice ends the lease?", "How much notice ends the lease?"],
            domain="legal",
            backend="local",
        )
        one = qa.ask("How much notice ends the lease?", domain="legal", backend="local")
    assert [a.adapter for a in answers] == [one.adapter, one.adapter]
    assert answers[0].text == one.text


def test_list_flags_active_and_stale_adapters(
    registered: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    rows = {r["ref"]: r for r in describe_adapters(registered)}
    assert rows["legal/v1"]["active"] is True and rows["finance/v1"]["active"] is False
    for row in rows.values():
        assert {"name", "domain", "base_model", "active", "scores", "stale"} <= set(row)
    registry = AdapterRegistry(registered.data_dir)
    legal = registry.get("legal")
    from adaptrag.rag.retrieval.collection_info import domain_snapshot
    from adaptrag.rag.stores import connection, open_store

    store = open_store(registered.store.collection, **connection(registered))
    legal.collection = {
        "name": registered.store.collection,
        "snapshot": domain_snapshot(store, "legal"),
    }
    store.close()
    registry.update_scores(legal, legal.scores)
    assert {r["ref"]: r for r in describe_adapters(registered)}["legal/v1"]["stale"] is False

    (tmp_path / "new.md").write_text("# Addendum\n\nThe rent rises by two percent each year.\n")
    ingest_paths([tmp_path / "new.md"], "legal", settings=registered, embedder=embedder)
    assert {r["ref"]: r for r in describe_adapters(registered)}["legal/v1"]["stale"] is True


def test_the_registry_reads_metadata_once_and_sees_another_process_change_it(
    registered: Settings,
) -> None:
    registry = AdapterRegistry(registered.data_dir)
    legal = registry.get("legal")
    reads = registry.reads
    for _ in range(20):  # what requests do: list, resolve, the domain's active adapter
        registry.list(), registry.get("legal/v1"), registry.active("legal")
    assert registry.reads == reads  # nothing re-read while nothing changed

    other = AdapterRegistry(registered.data_dir)  # another process's view of the same folder
    original = other.get("legal").scores
    other.update_scores(other.get("legal"), {"adapter": {"f1": 0.9}, "base": {"f1": 0.1}})
    try:
        assert registry.get("legal").beats_base()  # seen on the next lookup
        assert registry.reads == reads + 1  # only the changed file is read again
    finally:
        other.update_scores(other.get("legal"), original)
    assert registry.get("legal").scores == original and legal.ref == "legal/v1"
