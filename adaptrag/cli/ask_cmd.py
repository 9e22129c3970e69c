"""`adaptrag ask`: one question, answered with sources (or streamed)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from adaptrag.cli.base import (
    JsonOption,
    app,
    cli_settings,
    emit,
)
from adaptrag.rag.answering.query import Query
from adaptrag.rag.retrieval.filters import parse_expressions
from adaptrag.rag.settings import Settings

# --- ask -------------------------------------------------------------------------------


def _describe_answer(answer: Any, *, with_text: bool = True) -> str:
    lines = [answer.text] if with_text else []
    lines += [*_grounding_lines(answer.grounding), ""]
    lines.append("Sources:")
    for n, source in enumerate(answer.sources, start=1):
        meta = source.metadata
        lines.append(
            f"  [{n}] {source.label} ({meta.get('domain', '?')}, score {source.score:.3f}) "
            f"{meta.get('source', '')}"
        )
    if not answer.sources:
        lines.append("  none matched")
    cited = [c for c in answer.citations if c.valid and c.page is not None]
    if cited:
        pages = ", ".join(f"[{c.marker}] {c.doc_id} p. {c.page}" for c in cited)
        lines.append(f"Cited: {pages}")
    if answer.dropped:
        dropped = ", ".join(s.doc_id for s in answer.dropped)
        lines.append(f"Dropped to fit the prompt budget: {dropped}")
    if answer.invalid_citations:
        lines.append(f"Citations pointing at no source: {answer.invalid_citations}")
    t = answer.timings
    cost = f", ${answer.usage.cost_usd:.5f}" if answer.usage.cost_usd else ""
    lines.append(
        f"{answer.backend} · {answer.model} · {answer.route} · {t['total_ms']:.0f} ms (embed "
        f"{t['embed_ms']:.0f}, search {t['search_ms']:.0f}, generate {t['generate_ms']:.0f})"
        f" · {answer.usage.input_tokens}+{answer.usage.output_tokens} tokens{cost}"
        + (f" · models loaded in {t['load_ms']:.0f} ms" if t.get("load_ms") else "")
    )
    return "\n".join(lines)


def _grounding_lines(verdict: Any) -> list[str]:
    """The flag under an answer stating values no source holds, or what replaced it."""
    if verdict is None:
        return []
    lines = []
    if verdict.model_text is not None:
        how = "a quote from the sources" if verdict.action == "quoted" else "a refusal"
        lines.append(f"(replaced by {how}; the model wrote: {verdict.model_text!r})")
    if verdict.unsupported:
        shown = ", ".join(v.text for v in verdict.unsupported)
        lines.append(f"WARNING: not in any source: {shown}; check it before relying on it")
    return lines


@app.command()
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question."),
    domain: str | None = typer.Option(None, "--domain", "-d", help="Only this domain's chunks."),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help=Settings.field_help("backend")
    ),
    top_k: int | None = typer.Option(None, "--top-k", "-k", help=Settings.field_help("top_k")),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        help="Payload filter (repeatable, ANDed): key=value (a key given twice matches either), "
        "key!=value, key>=N, key<N (numbers or ISO dates), key:exists, key:missing, or JSON "
        '(\'{"page": {"gte": 40}}\').',
    ),
    doc_id: str | None = typer.Option(None, "--doc-id", help="Only this document's chunks."),
    adapter: str | None = typer.Option(
        None,
        "--adapter",
        "-a",
        help="Answer with this adapter (name or name/vN) on the local model; 'base' for none.",
    ),
    mode: str | None = typer.Option(None, "--mode", help=Settings.field_help("search_mode")),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", help=Settings.field_help("max_new_tokens")
    ),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help=Settings.field_help("collection")
    ),
    stream: bool = typer.Option(
        False, "--stream", help="Print the answer as it is generated, then the sources."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Answer a question from the ingested documents, with sources and citations.

    With --json: one Answer object; with --stream --json: one JSON line per text delta
    ({"delta": ...}), then {"answer": ...}.
    """
    from adaptrag.rag.answering.pipeline import Pipeline

    settings = cli_settings(ctx, collection=collection)
    query = Query.of(
        question,
        {
            "domain": domain,
            "backend": backend,
            "top_k": top_k,
            "filters": parse_expressions(filters) or None,
            "doc_id": doc_id,
            "adapter": adapter,
            "mode": mode,
            "max_new_tokens": max_new_tokens,
        },
    )
    with Pipeline(settings) as qa:
        if not stream:
            answer = qa.answer([query])[0]
            emit(answer.to_dict(), as_json, _describe_answer(answer))
            return
        for event in qa.answer_stream(query):
            if isinstance(event, str):
                if as_json:
                    typer.echo(json.dumps({"delta": event}))
                else:
                    sys.stdout.write(event)
                    sys.stdout.flush()
            elif as_json:
                typer.echo(json.dumps({"answer": event.to_dict()}, default=str))
            else:
                typer.echo("\n\n" + _describe_answer(event, with_text=False))
