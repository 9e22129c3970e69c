"""`adaptrag adapters ...`: train, register, list, activate and delete domain adapters."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from adaptrag.adapters.gate import describe_gate
from adaptrag.adapters.options import TrainOptions
from adaptrag.cli.base import (
    JsonOption,
    adapters_app,
    cli_settings,
    cli_store,
    emit,
)
from adaptrag.rag.errors import ConfigError

# --- adapters --------------------------------------------------------------------------


def _scores_line(scores: dict[str, Any]) -> str:
    if not scores.get("adapter"):
        return "not evaluated"
    return f"held-out {describe_gate(scores)}"


_DEFAULT = TrainOptions(domain="", data=Path())


@adapters_app.command("train")
def adapters_train(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="Domain the adapter serves."),
    data: Path = typer.Option(..., "--data", help="QA rows (JSONL: question, answers...)."),
    name: str | None = typer.Option(None, "--name", help="Adapter name (default: the domain)."),
    base_model: str | None = typer.Option(
        None, "--base-model", help="Base model (default: ADAPTRAG_GENERATOR_MODEL)."
    ),
    epochs: float = typer.Option(
        _DEFAULT.epochs, "--epochs", help="Passes over the training rows."
    ),
    max_steps: int | None = typer.Option(
        _DEFAULT.max_steps, "--max-steps", help="Stop after this many steps (overrides --epochs)."
    ),
    lr: float = typer.Option(_DEFAULT.lr, "--lr", help="Learning rate."),
    r: int = typer.Option(_DEFAULT.r, "--r", help="LoRA rank."),
    alpha: int = typer.Option(_DEFAULT.alpha, "--alpha", help="LoRA alpha (scale = alpha / r)."),
    dropout: float = typer.Option(_DEFAULT.dropout, "--dropout", help="LoRA dropout."),
    targets: str = typer.Option(
        ",".join(_DEFAULT.targets), "--targets", help="Comma-separated modules LoRA adapts."
    ),
    eval_split: float = typer.Option(
        _DEFAULT.eval_split,
        "--eval-split",
        help="Share of rows held out (at least 30 when the data has 120 or more).",
    ),
    distractors: int = typer.Option(
        _DEFAULT.distractors, "--distractors", help="Retrieved distractor chunks."
    ),
    oracle_p: float = typer.Option(
        _DEFAULT.oracle_p, "--oracle-p", help="Chance the answering chunk is in the prompt."
    ),
    batch_size: int = typer.Option(_DEFAULT.batch_size, "--batch-size", help="Examples per step."),
    eval_every: int = typer.Option(
        _DEFAULT.eval_every, "--eval-every", help="Steps between validation checks."
    ),
    patience: int = typer.Option(
        _DEFAULT.patience, "--patience", help="Checks without improvement before stopping."
    ),
    seed: int = typer.Option(
        _DEFAULT.seed, "--seed", help="Seed of the split, examples, data order and LoRA init."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads for training and gate (default: CPUs, at most 8)."
    ),
    gate_rows: int | None = typer.Option(
        None, "--gate-rows", help="Gate on the first N held-out rows (default: all)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run."),
    force: bool = typer.Option(
        False, "--force", help="Activate the adapter even if it does not pass the gate."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Train a LoRA adapter for a domain on retrieval-aware examples; promote it if it wins."""
    from adaptrag.adapters import train_adapter

    options = TrainOptions(
        domain=domain,
        data=data,
        name=name,
        base_model=base_model,
        epochs=epochs,
        max_steps=max_steps,
        lr=lr,
        r=r,
        alpha=alpha,
        dropout=dropout,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
        eval_split=eval_split,
        distractors=distractors,
        oracle_p=oracle_p,
        batch_size=batch_size,
        eval_every=eval_every,
        patience=patience,
        seed=seed,
        threads=threads,
        gate_rows=gate_rows,
        resume=resume,
        force=force,
    )
    result = train_adapter(options, settings=cli_settings(ctx))
    info = result.adapter
    passed = info.beats_base()
    if result.promoted and not passed:
        verdict = "active (--force: it did not pass the gate)"
    else:
        verdict = "active" if result.promoted else "registered, not active (did not pass the gate)"
    human = (
        f"{info.ref} for {info.domain}: {result.steps} steps, {result.examples} examples "
        f"({result.skipped_rows} rows skipped), {result.seconds:.0f} s\n"
        f"{_scores_line(info.scores)}\n{verdict}"
    )
    emit(result.to_dict(), as_json, human)


@adapters_app.command("list")
def adapters_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List adapters: domain, base model, active, held-out scores, stale."""
    from adaptrag.adapters import describe_adapters

    rows = describe_adapters(cli_settings(ctx))
    human = (
        "\n".join(
            f"{r['ref']}\t{r['domain']}\t{'active' if r['active'] else '-'}\t"
            f"{'STALE' if r['stale'] else ''}\t{_scores_line(r['scores'])}"
            for r in rows
        )
        or "no adapters yet; train one with `adaptrag adapters train`"
    )
    emit(rows, as_json, human)


@adapters_app.command("show")
def adapters_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name or name/vN"),
    as_json: bool = JsonOption,
) -> None:
    """Show an adapter's metadata."""
    from adaptrag.adapters import AdapterRegistry, describe_adapters

    settings = cli_settings(ctx)
    wanted = AdapterRegistry(settings.data_dir).get(ref).ref
    (row,) = [r for r in describe_adapters(settings) if r["ref"] == wanted]
    emit(row, as_json, json.dumps(row, indent=2, default=str))


@adapters_app.command("activate")
def adapters_activate(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name or name/vN"),
    as_json: bool = JsonOption,
) -> None:
    """Make an adapter version its domain's active adapter."""
    from adaptrag.adapters import AdapterRegistry

    info = AdapterRegistry(cli_settings(ctx).data_dir).activate(ref)
    emit(
        {"active": info.ref, "domain": info.domain},
        as_json,
        f"{info.ref} is active for {info.domain}",
    )


@adapters_app.command("delete")
def adapters_delete(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name/vN (a bare name: its newest version)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete an adapter version (and unload it from the inference server, if one is set)."""
    from adaptrag.adapters import AdapterRegistry
    from adaptrag.adapters.runtime import choice
    from adaptrag.adapters.served import unserve

    settings = cli_settings(ctx)
    registry = AdapterRegistry(settings.data_dir)
    target = registry.get(ref).ref
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise ConfigError(f"refusing to delete {target} without confirmation; pass --yes")
        typer.confirm(f"Delete adapter {target}?", abort=True)
    served = unserve(settings, choice(registry.delete(target)))
    data = {"deleted": target, **({"server": served} if served else {})}
    emit(data, as_json, f"deleted {target}" + (f"; {served}" if served else ""))


@adapters_app.command("add")
def adapters_add(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A PEFT LoRA adapter folder (save_pretrained output)."),
    domain: str = typer.Option(..., "--domain", "-d", help="Domain the adapter serves."),
    name: str | None = typer.Option(None, "--name", help="Adapter name (default: the domain)."),
    base_model: str | None = typer.Option(
        None, "--base-model", help="Its base model (default: ADAPTRAG_GENERATOR_MODEL)."
    ),
    activate: bool = typer.Option(False, "--activate", help="Make it the domain's active one."),
    as_json: bool = JsonOption,
) -> None:
    """Register an existing PEFT adapter (checked against its base model)."""
    from adaptrag.adapters import AdapterRegistry, add_adapter

    settings = cli_settings(ctx)
    info = add_adapter(path, domain, settings=settings, name=name, base_model=base_model)
    if activate:
        AdapterRegistry(settings.data_dir).activate(info.ref)
    emit(info.to_dict(), as_json, f"registered {info.ref} for {domain}")


@adapters_app.command("synth")
def adapters_synth(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="Domain whose chunks to use."),
    n: int = typer.Option(..., "--n", help="Pairs to write (one per sampled chunk)."),
    out: Path = typer.Option(..., "--out", help="QA JSONL file to write."),
    backend: str = typer.Option(
        "auto", "--backend", "-b", help="claude, local, openai, or auto (Claude when a key is set)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the chunk sample."),
    as_json: bool = JsonOption,
) -> None:
    """Write question/answer pairs from a domain's chunks, for teams without labelled data."""
    from adaptrag.adapters.synth import synth_rows, write_rows
    from adaptrag.rag.answering.router import check_backend, choose_backend
    from adaptrag.rag.generators import make_generator

    settings = cli_settings(ctx)
    check_backend(backend)
    route = choose_backend(backend, prefer_claude=True)
    generator = make_generator(route.backend, settings)
    store = cli_store(settings, settings.store.collection)
    try:
        rows, rejected = synth_rows(store, generator, domain, n, seed=seed)
    finally:
        store.close()
        generator.close()
    write_rows(rows, out)
    data = {"written": len(rows), "rejected": rejected, "out": str(out), "backend": route.backend}
    emit(
        data,
        as_json,
        f"wrote {len(rows)} pairs to {out} ({rejected} rejected) with {route.backend}",
    )
