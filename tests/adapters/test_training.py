"""Training (a few real LoRA steps on SmolLM2), metadata, the promotion gate, examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.adapters import write_qa

from adaptrag.adapters import AdapterRegistry, TrainOptions, TrainResult, train_adapter
from adaptrag.adapters.raft import RaftSettings, build_examples, holds_answer, verbatim_answer
from adaptrag.adapters.training import split_rows
from adaptrag.eval.datasets import read_qa
from adaptrag.rag import Pipeline
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.prompts import NO_ANSWER
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import QARow


@pytest.fixture(scope="module")
def trained(
    indexed_legal: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TrainResult, Path]]:
    """One real training run: 3 steps of LoRA on the sample legal QA, gate on 2 rows."""
    data = write_qa(tmp_path_factory.mktemp("qa") / "legal.jsonl")
    options = TrainOptions(
        domain="legal", data=data, max_steps=3, eval_every=2, batch_size=2, eval_split=0.4
    )
    yield train_adapter(options, settings=indexed_legal, show_progress=False), data


def test_training_registers_a_version_in_peft_format_with_its_metadata(
    trained: tuple[TrainResult, Path], indexed_legal: Settings
) -> None:
    result, _ = trained
    info = result.adapter
    assert (info.ref, info.domain, result.steps) == ("legal/v1", "legal", 3)
    assert (info.path / "adapter_config.json").is_file()
    assert (info.path / "adapter_model.safetensors").is_file()
    meta = json.loads((info.path / "adaptrag.json").read_text())
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert len(meta["base_fingerprint"]) == 16
    assert meta["lora"] == {
        "r": 8,
        "alpha": 16,
        "dropout": 0.05,
        "targets": ["q_proj", "k_proj", "v_proj", "o_proj"],
    }
    assert meta["data"]["rows"] == 5 and meta["data"]["val_rows"] == 2
    assert len(meta["data"]["sha256"]) == 64
    assert meta["raft"] == {"distractors": 3, "oracle_p": 0.8, "seed": 0}
    assert meta["collection"]["name"] == "adaptrag" and meta["collection"]["snapshot"]
    assert len(meta["training"]["eval_losses"]) == 2  # checks at steps 2 and 3
    assert meta["training"]["seconds_per_step"] > 0
    for system in ("adapter", "base"):
        assert set(meta["scores"][system]) == {"em", "f1", "value_correct", "value_in_sources", "n"}
        assert meta["scores"][system]["n"] == 2
    gate = meta["scores"]["gate"]
    assert gate["rows"] == 2 and len(gate["ci95"]) == 2 and "interval" in gate["rule"]
    assert meta["training"]["threads"] >= 1 and meta["training"]["seed"] == 0
    assert meta["created_at"]


def test_promotion_follows_the_held_out_scores(
    trained: tuple[TrainResult, Path], indexed_legal: Settings
) -> None:
    result, _ = trained
    registry = AdapterRegistry(indexed_legal.data_dir)
    assert result.promoted == result.adapter.beats_base()
    assert (registry.active("legal") is not None) == result.promoted


def test_retraining_makes_a_new_version_and_force_activates_it(
    trained: tuple[TrainResult, Path], indexed_legal: Settings
) -> None:
    _, data = trained
    options = TrainOptions(
        domain="legal", data=data, max_steps=1, batch_size=2, eval_split=0.2, force=True
    )
    second = train_adapter(options, settings=indexed_legal, show_progress=False)
    registry = AdapterRegistry(indexed_legal.data_dir)
    assert second.adapter.ref == "legal/v2" and second.promoted
    assert registry.active("legal").ref == "legal/v2"  # type: ignore[union-attr]
    assert [a.ref for a in registry.list()] == ["legal/v1", "legal/v2"]
    with Pipeline(indexed_legal) as qa:
        answer = qa.ask("How much notice ends the lease?", domain="legal", backend="local")
    assert answer.adapter == "legal/v2" and answer.route == "local: legal's active adapter"


def test_examples_keep_the_oracle_with_its_citation_or_teach_the_refusal(
    indexed_legal: Settings, tmp_path: Path, local_generator: LocalGenerator
) -> None:
    rows = read_qa(write_qa(tmp_path / "qa.jsonl"))
    with Pipeline(indexed_legal) as qa:
        build = lambda p: build_examples(  # noqa: E731
            rows,
            qa.retriever,
            "legal",
            RaftSettings(distractors=2, oracle_p=p),
            count_tokens=local_generator.count_tokens,
            budget_tokens=2000,
        )
        with_oracle, skipped = build(1.0)
        without, _ = build(0.0)
    assert skipped == 0 and all(e.has_oracle for e in with_oracle)
    for example, row in zip(with_oracle, rows, strict=True):
        answer, marker = example.target.rsplit(" [", 1)
        oracle = example.prompt.sources[int(marker[:-1]) - 1].text
        assert answer.lower() == row.answers[0].lower() and holds_answer(oracle, row)
        assert answer in oracle  # as the source writes it: the form extractive decoding copies
    for example, row in zip(without, rows, strict=True):
        assert example.target == NO_ANSWER
        assert not any(holds_answer(s.text, row) for s in example.prompt.sources)


def test_rows_without_evidence_in_the_collection_use_their_evidence_or_are_skipped(
    indexed_legal: Settings, local_generator: LocalGenerator
) -> None:
    rows = [
        QARow("e1", "What colour is the moon?", ["grey"], "legal", ["The moon is grey."]),
        QARow("e2", "Who won the 1930 cup?", ["Uruguay"], "legal"),
    ]
    with Pipeline(indexed_legal) as qa:
        examples, skipped = build_examples(
            rows,
            qa.retriever,
            "legal",
            RaftSettings(oracle_p=1.0),
            count_tokens=local_generator.count_tokens,
            budget_tokens=2000,
        )
    assert skipped == 1
    assert [e.row_id for e in examples] == ["e1"]
    assert any(s.text == "The moon is grey." for s in examples[0].prompt.sources)


def test_the_target_states_the_answer_as_the_source_writes_it() -> None:
    row = QARow("r", "Which law?", ["zurich", "Zürich"])
    assert verbatim_answer(row, "Governed by the laws of\nZurich.") == "Zurich"
    spaced = QARow("s", "How long?", ["six (6) months"])
    assert verbatim_answer(spaced, "for Six  (6) months after") == "Six  (6) months"
    assert verbatim_answer(spaced, "for half a year") == "six (6) months"  # not found: as given
    labelled = QARow("p", "Does it help?", ["yes", "It helps a little."])
    assert verbatim_answer(labelled, "It helps a little.") == "yes"  # a label stays a label


def test_split_is_seeded_and_keeps_one_row_out() -> None:
    rows = [QARow(str(i), f"q{i}", ["a"]) for i in range(10)]
    train, held_out = split_rows(rows, 0.2, seed=3)
    assert len(held_out) == 2 and len(train) == 8
    assert split_rows(rows, 0.2, seed=3) == (train, held_out)
    with pytest.raises(ConfigError, match="at least 2"):
        split_rows(rows[:1], 0.2, seed=0)


def test_bad_training_input_is_a_one_line_error(indexed_legal: Settings, tmp_path: Path) -> None:
    data = write_qa(tmp_path / "qa.jsonl")
    with pytest.raises(ConfigError, match="reserved"):
        train_adapter(TrainOptions("legal", data, name="base"), settings=indexed_legal)
    with pytest.raises(ConfigError, match="does not exist"):
        train_adapter(TrainOptions("legal", tmp_path / "nope.jsonl"), settings=indexed_legal)
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1 needs 'answers'"):
        train_adapter(TrainOptions("legal", tmp_path / "bad.jsonl"), settings=indexed_legal)
    sampling = indexed_legal.replaced(**{"temperature": 0.7})
    with Pipeline(sampling) as qa, pytest.raises(ConfigError, match="greedy answers"):
        train_adapter(TrainOptions("legal", data), settings=sampling, pipeline=qa)


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path, models_dir: Path) -> None:
    from dataclasses import replace

    from peft import LoraConfig, get_peft_model

    from adaptrag.adapters.raft import TrainingExample
    from adaptrag.adapters.training import _encode, _fit
    from adaptrag.rag.prompts import build_prompt
    from adaptrag.rag.types import Source

    trainer = LocalGenerator(models_dir=models_dir)
    source = Source("d", "c", "The fee is ten euros.", 1.0)
    example = TrainingExample(
        "r", build_prompt("What is the fee?", [source]), "ten euros [1]", True
    )
    encoded = [_encode(trainer, example)]
    pad = trainer.tokenizer.pad_token_id
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    options = TrainOptions("legal", tmp_path / "qa.jsonl", max_steps=2, eval_every=1, batch_size=1)
    run_dir = tmp_path / "run"

    first = _fit(
        get_peft_model(trainer.hf_model, lora), encoded, encoded, pad, options, run_dir, "t", False
    )
    assert (first.step, len(first.eval_losses)) == (2, 2)
    assert (run_dir / "checkpoint" / "optimizer.pt").is_file()

    fresh = LocalGenerator(models_dir=models_dir).hf_model
    resumed = _fit(
        get_peft_model(fresh, lora),
        encoded,
        encoded,
        pad,
        replace(options, max_steps=3, resume=True),
        run_dir,
        "t",
        False,
    )
    assert (resumed.step, resumed.steps_run) == (3, 1)
    assert resumed.eval_losses[:2] == first.eval_losses and len(resumed.eval_losses) == 3
    assert resumed.eval_losses[2] < first.eval_losses[0]  # it kept learning from where it was


def test_the_answer_loss_is_the_models_own_loss_and_gradient(models_dir: Path) -> None:
    """Logits at the answer positions only: the same loss and LoRA gradients as `labels=`."""
    import torch
    from peft import LoraConfig, get_peft_model

    from adaptrag.adapters.raft import TrainingExample
    from adaptrag.adapters.training import _batch, _encode, answer_loss
    from adaptrag.rag.prompts import build_prompt
    from adaptrag.rag.types import Source

    trainer = LocalGenerator(models_dir=models_dir)
    sources = [Source("d", "c", "The fee is ten euros, due in May.", 1.0)]
    encoded = [
        _encode(trainer, TrainingExample("a", build_prompt("What is the fee?", sources), t, True))
        for t in ("ten euros [1]", "It is due in May, the fee being ten euros [1]")
    ]
    batch = _batch(encoded, trainer.tokenizer.pad_token_id)  # rows of different lengths
    torch.manual_seed(0)
    model = get_peft_model(
        trainer.hf_model,
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )

    def gradients(loss: torch.Tensor) -> list[torch.Tensor]:
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    ours, theirs = answer_loss(model, batch), model(**batch).loss
    assert abs(ours.item() - theirs.item()) < 1e-5
    ours_grad, theirs_grad = gradients(ours), gradients(model(**batch).loss)
    assert len(ours_grad) == len(theirs_grad) > 0
    for a, b in zip(ours_grad, theirs_grad, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
