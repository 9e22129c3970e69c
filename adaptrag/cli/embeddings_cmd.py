"""`adaptrag embeddings tune`: the embedding model tuned on a domain's questions."""

from __future__ import annotations

from pathlib import Path

import typer

from adaptrag.cli.base import JsonOption, cli_settings, embeddings_app, emit
from adaptrag.rag.settings import Settings


@embeddings_app.command("tune")
def embeddings_tune(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="Domain whose questions tune it."),
    train: Path = typer.Option(..., "--train", help="QA JSONL (question, answers, evidence)."),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help=Settings.field_help("collection")
    ),
    holdout: float = typer.Option(0.2, help="Share of the rows held out for the decision."),
    epochs: int = typer.Option(1, help="Passes over the training pairs."),
    batch_size: int = typer.Option(16, help="Pairs per step (each one's in-batch negatives)."),
    lr: float = typer.Option(2e-5, "--lr", help="AdamW learning rate."),
    negatives: int = typer.Option(1, help="Hard negatives per pair, mined from the store."),
    scope: str = typer.Option(
        "domain", help="Search each row within its domain, or its own document (doc_id)."
    ),
    top_k: int = typer.Option(5, "--top-k", help="k of the held-out hit@k that decides."),
    seed: int = typer.Option(0, help="Seed of the split, the order and the weights' init."),
    force: bool = typer.Option(False, "--force", help="Promote even without a clear gain."),
    as_json: bool = JsonOption,
) -> None:
    """Fine-tune the embedding model on a domain's QA rows; promote its collection version
    only when held-out hit@k is better beyond doubt (a paired bootstrap interval above 0)."""
    from adaptrag.eval.datasets import read_qa
    from adaptrag.ingest.tune import TuneOptions, tune_embeddings

    settings = cli_settings(ctx, collection=collection)
    options = TuneOptions(
        holdout=holdout,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        negatives=negatives,
        scope=scope,  # type: ignore[arg-type]  # checked by TuneOptions.check
        top_k=top_k,
        seed=seed,
        force=force,
    )
    rows = read_qa(train, domain=domain)
    report = tune_embeddings(
        rows,
        domain,
        settings=settings,
        options=options,
        progress=lambda line: typer.echo(line, err=True),
    )
    verdict = (
        f"promoted: {report.collection} is now served by {report.version}"
        + (" (forced)" if report.forced else "")
        if report.promoted
        else f"not promoted: {report.collection} stays on {report.serving} ({report.rule})"
    )
    human = "\n".join(
        [
            f"tuned {report.base_model} on {report.train} pairs of domain {report.domain} "
            f"({report.pairs} of {report.rows} rows matched a chunk; {report.held_out} held "
            f"out); training {report.train_s:.0f} s, re-index {report.reindex_s:.0f} s",
            f"held-out hit@{report.top_k}: {report.hit_before:.3f} -> {report.hit_after:.3f} "
            f"({report.difference:+.3f}, 95% CI [{report.ci95[0]:+.3f}, {report.ci95[1]:+.3f}])",
            verdict,
        ]
    )
    emit(report.to_dict(), as_json, human)
