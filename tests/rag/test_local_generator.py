"""The local backend with the real SmolLM2-135M-Instruct (dequantized once per session)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adaptrag.rag.errors import ModelLoadError
from adaptrag.rag.generators.base import Generation
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import build_prompt
from adaptrag.rag.types import Source

LEASE = Source("lease", "c1", "The tenant must give ninety days notice.", 1.0, {"title": "Lease"})
NDA = Source("nda", "c2", "Confidentiality lasts four years.", 0.5, {"title": "NDA"})
PROMPTS = [
    build_prompt("How much notice must the tenant give?", [LEASE, NDA]),
    build_prompt("How long does confidentiality last?", [NDA]),
    build_prompt("Who signs?", [LEASE]),
]


def test_default_model_is_cached_as_safetensors_and_reloads_without_the_gguf(
    local_generator: LocalGenerator, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = models_dir / "SmolLM2-135M-Instruct"
    assert (cached / "model.safetensors").is_file() and (cached / "tokenizer.json").is_file()
    monkeypatch.setattr("adaptrag.rag.generators.local.packaged_gguf", lambda: None)
    again = LocalGenerator(models_dir=models_dir)
    assert again.generate(PROMPTS[0], max_new_tokens=4).usage.output_tokens > 0


def test_prompt_goes_through_the_chat_template_and_tokens_are_counted_exactly(
    local_generator: LocalGenerator,
) -> None:
    text = local_generator.chat_text(PROMPTS[0])
    assert text.startswith("<|im_start|>system\nYou answer questions")
    assert text.endswith("<|im_start|>assistant\n")
    generation = local_generator.generate(PROMPTS[0], max_new_tokens=4)
    assert generation.usage.input_tokens == local_generator.count_tokens(PROMPTS[0])
    assert local_generator.prompt_budget(200) == 8192 - 200


def test_greedy_generation_is_deterministic_and_bounded(local_generator: LocalGenerator) -> None:
    first = local_generator.generate(PROMPTS[0], max_new_tokens=12)
    second = local_generator.generate(PROMPTS[0], max_new_tokens=12)
    assert first.text and first.text == second.text
    assert 0 < first.usage.output_tokens <= 12
    assert first.usage.cost_usd == 0.0


def test_stream_yields_the_same_text_as_generate(local_generator: LocalGenerator) -> None:
    events = list(local_generator.stream(PROMPTS[0], max_new_tokens=12))
    final = events[-1]
    assert isinstance(final, Generation)
    assert len(events) > 2
    assert "".join(str(e) for e in events[:-1]).strip() == final.text
    assert final.text == local_generator.generate(PROMPTS[0], max_new_tokens=12).text


def test_leaving_a_stream_early_releases_the_model(local_generator: LocalGenerator) -> None:
    for _ in local_generator.stream(PROMPTS[0], max_new_tokens=64):
        break
    assert local_generator.lock.acquire(timeout=30)
    local_generator.lock.release()


def test_batched_generation_matches_one_at_a_time_in_the_callers_order(
    local_generator: LocalGenerator,
) -> None:
    one_by_one = [local_generator.generate(p, max_new_tokens=10).text for p in PROMPTS]
    batched = local_generator.generate_many(PROMPTS, max_new_tokens=10)
    assert [g.text for g in batched] == one_by_one


def test_concurrent_callers_each_get_their_own_answer(local_generator: LocalGenerator) -> None:
    expected = [local_generator.generate(p, max_new_tokens=8).text for p in PROMPTS]
    results: dict[int, str] = {}

    def ask(i: int) -> None:
        results[i] = local_generator.generate(PROMPTS[i], max_new_tokens=8).text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(PROMPTS))] == expected


def test_an_unknown_model_is_a_one_line_load_error(tmp_path: Path) -> None:
    generator = LocalGenerator("no-such-org/no-such-model", models_dir=tmp_path)
    with pytest.raises(ModelLoadError, match="ADAPTRAG_GENERATOR_MODEL") as error:
        generator.generate(PROMPTS[0], max_new_tokens=2)
    assert "\n" not in str(error.value)


def test_any_local_model_path_loads_through_the_same_code(
    local_generator: LocalGenerator, models_dir: Path
) -> None:
    by_path = LocalGenerator(str(models_dir / "SmolLM2-135M-Instruct"), models_dir=models_dir)
    expected = local_generator.generate(PROMPTS[1], max_new_tokens=8).text
    assert by_path.generate(PROMPTS[1], max_new_tokens=8).text == expected


def test_generation_past_its_deadline_stops_and_says_so(local_generator: LocalGenerator) -> None:
    from adaptrag.rag.infra.deadline import DeadlineExceeded, time_limit

    with time_limit(0), pytest.raises(DeadlineExceeded, match="time limit"):
        local_generator.generate(PROMPTS[0], max_new_tokens=2000)
    with time_limit(0), pytest.raises(DeadlineExceeded, match="time limit"):
        list(local_generator.stream(PROMPTS[0], max_new_tokens=2000))
    assert local_generator.generate(PROMPTS[0], max_new_tokens=4).usage.output_tokens > 0


def test_a_full_waiting_line_is_refused_with_a_busy_error(local_generator: LocalGenerator) -> None:
    from adaptrag.rag.errors import ModelBusyError

    local_generator.max_waiting = 1
    try:
        # this caller holds the model, so the next one is refused
        with local_generator._turn(None), pytest.raises(ModelBusyError, match="limit 1"):
            local_generator.generate(PROMPTS[0], max_new_tokens=4)
        assert local_generator._waiting == 0  # the refused call left no count behind
        assert local_generator.generate(PROMPTS[0], max_new_tokens=4).usage.output_tokens > 0
    finally:
        local_generator.max_waiting = None
