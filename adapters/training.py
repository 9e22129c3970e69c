"""Training a domain adapter: RAFT examples, a LoRA loop, early stopping, gated promotion.

`train_adapter` reads QA rows, holds out a validation split, builds retrieval-aware
examples (`adapters.raft`), and trains LoRA weights on the base model with the loss on
the answer tokens only. Validation loss is checked every `eval_every` steps: the best
weights are kept, training stops after `patience` checks without improvement, and a
checkpoint (weights, optimizer, step) lets `resume=True` continue an interrupted run.
The result is registered as a new version; it becomes the domain's active adapter only if
it passes the gate (`adapters.gate`: its F1 gain over the base model on the held-out rows,
through the real pipeline, has a 95% interval above zero), or with `force=True`.

The same data, options and seed give the same weights and the same gate result: training
and gate run on a fixed number of threads (`threads`, recorded in the metadata) with
torch's deterministic algorithms, the data order and LoRA initialization are seeded, and
the gate decodes greedily.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from adaptrag.adapters.compat import quiet_peft
from adaptrag.adapters.gate import MIN_GATE_ROWS, describe_gate, run_gate
from adaptrag.adapters.options import TrainOptions
from adaptrag.adapters.raft import RaftSettings, TrainingExample, build_examples
from adaptrag.adapters.registry import AdapterInfo, AdapterRegistry, base_fingerprint
from adaptrag.eval.datasets import file_hash, read_qa
from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.answering.router import BASE_ADAPTER
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators.local import LocalGenerator
from adaptrag.rag.retrieval.collection_info import domain_snapshot
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import QARow

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced and measured."""

    adapter: AdapterInfo
    promoted: bool
    steps: int
    seconds: float
    examples: int
    skipped_rows: int
    stopped_early: bool
    eval_losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the CLI's --json)."""
        return {
            "adapter": self.adapter.to_dict(),
            "promoted": self.promoted,
            "scores": self.adapter.scores,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
            "seconds_per_step": self.adapter.training.get("seconds_per_step"),
            "examples": self.examples,
            "skipped_rows": self.skipped_rows,
            "stopped_early": self.stopped_early,
            "eval_losses": self.eval_losses,
            "gate": describe_gate(self.adapter.scores),
        }


def split_rows(
    rows: Sequence[QARow], eval_split: float, seed: int
) -> tuple[list[QARow], list[QARow]]:
    """A seeded train/validation split.

    The held-out part (validation loss and the gate) is `eval_split` of the rows, but at
    least `MIN_GATE_ROWS` (30) when that leaves three quarters for training (a quarter of
    the rows otherwise), and at least one row.
    """
    if len(rows) < 2:
        raise ConfigError("training needs at least 2 QA rows (one is held out for validation)")
    if not 0.0 < eval_split < 1.0:
        raise ConfigError(f"--eval-split must be between 0 and 1, not {eval_split}")
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    wanted = max(1, round(len(rows) * eval_split), min(MIN_GATE_ROWS, len(rows) // 4))
    held_out = min(len(rows) - 1, wanted)
    return shuffled[held_out:], shuffled[:held_out]


def default_threads() -> int:
    """Training threads when none are given: the machine's CPUs, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


@contextmanager
def reproducible(threads: int) -> Iterator[None]:
    """Fixed threads and torch's deterministic algorithms, restored afterwards.

    The thread count changes how float sums are split, so it is fixed for a run;
    `warn_only` keeps an op without a deterministic kernel from failing the run.
    """
    saved = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])


def _encode(generator: LocalGenerator, example: TrainingExample) -> tuple[list[int], list[int]]:
    """Token ids of prompt + target + end-of-turn, and labels masking everything but the target."""
    tokenizer = generator.tokenizer
    prompt_ids = tokenizer(generator.chat_text(example.prompt), add_special_tokens=False).input_ids
    target_ids = tokenizer(example.target + tokenizer.eos_token, add_special_tokens=False).input_ids
    return prompt_ids + target_ids, [-100] * len(prompt_ids) + target_ids


def _batch(encoded: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in encoded)
    input_ids = [ids + [pad_id] * (width - len(ids)) for ids, _ in encoded]
    labels = [lab + [-100] * (width - len(lab)) for _, lab in encoded]
    mask = [[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in encoded]
    return {
        "input_ids": torch.tensor(input_ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }


def answer_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean cross-entropy of the answer tokens, the model's logits computed there only.

    The same loss as the model's own `labels=` loss (tokens before n predict n, the masked
    ones ignored), without projecting every prompt position onto the vocabulary: for a batch
    of 4 prompts of 512 tokens those logits are 4 x 512 x 49,152 floats (0.4 GB, and as
    much again for their softmax and their gradient), a fifth of a step's arithmetic on a
    135M model, for the few dozen answer tokens that the loss reads.
    """
    labels = batch["labels"]
    targets = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)
    keep = targets != -100
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets[keep]
    )


def _eval_loss(
    model: Any, encoded: Sequence[tuple[list[int], list[int]]], pad_id: int, size: int
) -> float:
    model.eval()
    losses, weights = [], []
    with torch.inference_mode():
        for start in range(0, len(encoded), size):
            part = encoded[start : start + size]
            batch = {k: v.to(model.device) for k, v in _batch(part, pad_id).items()}
            losses.append(float(answer_loss(model, batch)))
            weights.append(len(part))
    model.train()
    return sum(loss * w for loss, w in zip(losses, weights, strict=True)) / sum(weights)


def train_adapter(
    options: TrainOptions,
    *,
    settings: Settings,
    pipeline: Pipeline | None = None,
    show_progress: bool | None = None,
) -> TrainResult:
    """Train, register and (if it passes the gate) activate an adapter; see the module."""
    from peft import LoraConfig, get_peft_model

    name = options.name or options.domain
    if name == BASE_ADAPTER:
        raise ConfigError(f"{BASE_ADAPTER!r} is reserved for the base model; choose another --name")
    if options.max_steps is not None and options.max_steps < 1:
        raise ConfigError("--max-steps must be at least 1")
    if not 0.0 <= options.oracle_p <= 1.0:
        raise ConfigError(f"--oracle-p must be between 0 and 1, not {options.oracle_p}")
    base_model = options.base_model or settings.local_model.generator_model
    if base_model != settings.local_model.generator_model:
        settings = settings.replaced(**{"generator_model": base_model})
    rows = read_qa(options.data, domain=options.domain)
    train_rows, val_rows = split_rows(rows, options.eval_split, options.seed)
    data_hash = file_hash(options.data)
    registry = AdapterRegistry(settings.data_dir)
    if pipeline is not None and pipeline.settings.generation.temperature > 0:
        raise ConfigError(
            f"the gate compares greedy answers, but the pipeline samples (temperature "
            f"{pipeline.settings.generation.temperature}); pass a pipeline with temperature 0"
        )
    own_pipeline = pipeline is None
    # The gate decodes greedily whatever ADAPTRAG_TEMPERATURE says: same rows, same answers.
    qa = pipeline or Pipeline(settings.replaced(**{"temperature": 0.0}))
    started = time.perf_counter()
    threads = options.threads or default_threads()
    try:
        with reproducible(threads):
            # A model of our own to train: the serving one (in qa) stays untouched.
            trainer = LocalGenerator(
                base_model,
                models_dir=settings.models_dir,
                device=settings.local_model.generator_device,
            )
            raft = RaftSettings(options.distractors, options.oracle_p, options.seed)
            budget = options.max_seq_tokens - 48  # room for the answer and end-of-turn
            train_examples, skipped = build_examples(
                train_rows,
                qa.retriever,
                options.domain,
                raft,
                count_tokens=trainer.count_tokens,
                budget_tokens=budget,
            )
            val_examples, _ = build_examples(
                val_rows,
                qa.retriever,
                options.domain,
                replace(raft, oracle_p=1.0),
                count_tokens=trainer.count_tokens,
                budget_tokens=budget,
            )
            if not train_examples:
                raise ConfigError(
                    f"none of the {len(train_rows)} training rows has its answer in the "
                    f"{options.domain!r} chunks or an 'evidence' field; check --domain and the data"
                )
            encoded = [_encode(trainer, e) for e in train_examples]
            val_encoded = [_encode(trainer, e) for e in val_examples] or encoded[:1]
            pad_id = trainer.tokenizer.pad_token_id

            torch.manual_seed(options.seed)
            lora = LoraConfig(
                r=options.r,
                lora_alpha=options.alpha,
                lora_dropout=options.dropout,
                target_modules=list(options.targets),
                task_type="CAUSAL_LM",
            )
            try:
                with quiet_peft():
                    model = get_peft_model(trainer.hf_model, lora)
            except ValueError as exc:
                raise ConfigError(
                    f"LoRA targets {list(options.targets)} do not fit {base_model}: {exc}"
                ) from exc
            run_dir = registry.root / ".runs" / options.run_id(data_hash)
            state = _fit(model, encoded, val_encoded, pad_id, options, run_dir, name, show_progress)
            del model, trainer  # free the training copy before serving the candidate

            fingerprint = _fingerprint(qa)
            store = qa.retriever.store
            spec = qa.retriever.check()
            info = registry.register(
                run_dir / "best",
                AdapterInfo(
                    name=name,
                    version=0,
                    domain=options.domain,
                    base_model=base_model,
                    base_fingerprint=fingerprint,
                    lora={
                        "r": options.r,
                        "alpha": options.alpha,
                        "dropout": options.dropout,
                        "targets": list(options.targets),
                    },
                    data={
                        "path": str(options.data),
                        "sha256": data_hash,
                        "rows": len(rows),
                        "train_rows": len(train_rows),
                        "val_rows": len(val_rows),
                        "examples": len(train_examples),
                        "skipped_rows": skipped,
                    },
                    raft=asdict(raft),
                    training={
                        "steps": state.step,
                        "batch_size": options.batch_size,
                        "lr": options.lr,
                        "epochs": options.epochs,
                        "max_steps": options.max_steps,
                        "best_eval_loss": round(state.best_loss, 4),
                        "eval_losses": state.eval_losses,
                        "stopped_early": state.stopped_early,
                        "seconds": round(state.seconds, 2),
                        "seconds_per_step": round(state.seconds / max(state.steps_run, 1), 3),
                        "seed": options.seed,
                        "threads": threads,
                        "run_id": options.run_id(data_hash),
                    },
                    collection={
                        "name": store.name,
                        "fingerprint": spec.fingerprint(),
                        "snapshot": domain_snapshot(store, options.domain),
                    },
                ),
            )
            gate_rows = val_rows[: options.gate_rows] if options.gate_rows else val_rows
            gate = run_gate(qa, info.ref, gate_rows, options.domain)
            registry.update_scores(info, gate.to_scores())
            promoted = options.force or info.beats_base()
            if promoted:
                registry.activate(info.ref)
            shutil.rmtree(run_dir, ignore_errors=True)
            return TrainResult(
                adapter=info,
                promoted=promoted,
                steps=state.step,
                seconds=time.perf_counter() - started,
                examples=len(train_examples),
                skipped_rows=skipped,
                stopped_early=state.stopped_early,
                eval_losses=list(state.eval_losses),
            )
    finally:
        if own_pipeline:
            qa.close()


@dataclass
class _RunState:
    """Progress of a training run, saved with each checkpoint."""

    step: int = 0
    best_loss: float = math.inf
    bad_checks: int = 0
    eval_losses: list[float] = field(default_factory=list)
    stopped_early: bool = False
    steps_run: int = 0
    seconds: float = 0.0


def _fit(
    model: Any,
    encoded: Sequence[tuple[list[int], list[int]]],
    val_encoded: Sequence[tuple[list[int], list[int]]],
    pad_id: int,
    options: TrainOptions,
    run_dir: Path,
    name: str,
    show_progress: bool | None,
) -> _RunState:
    """The LoRA loop: seeded batches, validation checks, best weights in `run_dir/best`."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=options.lr, weight_decay=0.0
    )
    steps_per_epoch = math.ceil(len(encoded) / options.batch_size)
    total_steps = options.max_steps or max(1, math.ceil(options.epochs * steps_per_epoch))
    warmup = max(1, total_steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup)
    )
    state = _RunState()
    checkpoint = run_dir / "checkpoint"
    if options.resume and (checkpoint / "state.json").is_file():
        state = _RunState(**json.loads((checkpoint / "state.json").read_text()))
        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
        schedule.load_state_dict(torch.load(checkpoint / "schedule.pt", weights_only=True))
        logger.info("resuming %s at step %d", run_dir.name, state.step)
    elif run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def check(step: int) -> bool:
        """Validation loss; keep the best weights; True when training should stop."""
        loss = _eval_loss(model, val_encoded, pad_id, options.batch_size)
        state.eval_losses.append(round(loss, 4))
        if loss < state.best_loss:
            state.best_loss, state.bad_checks = loss, 0
            model.save_pretrained(run_dir / "best")
        else:
            state.bad_checks += 1
        state.step = step
        model.save_pretrained(checkpoint)
        torch.save(optimizer.state_dict(), checkpoint / "optimizer.pt")
        torch.save(schedule.state_dict(), checkpoint / "schedule.pt")
        (checkpoint / "state.json").write_text(json.dumps(asdict(state)))
        return state.bad_checks >= options.patience

    started, first_step = time.perf_counter(), state.step
    bar = tqdm(
        total=total_steps,
        initial=first_step,
        desc=f"training {name}",
        unit="step",
        disable=None if show_progress is None else not show_progress,
    )
    for step in range(first_step, total_steps):
        epoch, offset = divmod(step * options.batch_size, len(encoded))
        order = list(range(len(encoded)))
        random.Random(options.seed + epoch).shuffle(order)
        picked = [encoded[order[(offset + i) % len(encoded)]] for i in range(options.batch_size)]
        batch = {k: v.to(model.device) for k, v in _batch(picked, pad_id).items()}
        loss = answer_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = step + 1
        if (done % options.eval_every == 0 or done == total_steps) and check(done):
            state.stopped_early = done < total_steps
            break
    bar.close()
    state.steps_run = state.step - first_step
    state.seconds = time.perf_counter() - started
    return state


def _fingerprint(qa: Pipeline) -> str:
    local = qa.generator("local")
    assert isinstance(local, LocalGenerator)
    return base_fingerprint(local.hf_model.config.to_dict(), local.tokenizer)
