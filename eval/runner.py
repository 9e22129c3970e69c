"""Running an evaluation: every QA row through the real pipeline, one result line at a time.

Rows go through `Pipeline.ask_many` in batches (batched local generation, concurrent Claude
calls). Each row's result, with its metrics, is appended to `DIR/results.jsonl` as soon as
its batch completes, so an interrupted run resumes where it stopped; a batch that fails is
retried row by row and a row that still fails is recorded with its error. `DIR/run.json`
holds the configuration: resuming with other settings is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from eval import metrics
from rag.errors import AdaptragError, ConfigError
from rag.pipeline import Pipeline
from rag.qa import file_hash, read_qa
from rag.settings import Settings
from rag.types import Answer, QARow

logger = logging.getLogger(__name__)
RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class EvalConfig:
    """What a run evaluates; recorded in run.json and the report."""

    dataset: str
    dataset_sha256: str
    backend: str | None = None
    adapter: str | None = None
    domain: str | None = None
    top_k: int | None = None
    limit: int | None = None


def row_metrics(row: QARow, answer: Answer, k: int) -> dict[str, float | None]:
    """Every per-row metric (None where the row has no gold for it)."""
    ranks = metrics.relevant_ranks(row, answer.sources)
    gold = 1 if row.doc_id else max(len(row.evidence), 1)
    retrieval: dict[str, float | None] = {
        "hit_at_k": None if ranks is None else metrics.hit_at_k(ranks, k),
        "recall_at_k": metrics.recall_at_k(row, answer.sources, k),
        "mrr": None if ranks is None else metrics.mrr(ranks),
        "ndcg_at_k": None if ranks is None else metrics.ndcg_at_k(ranks, k, gold),
    }
    return {
        **retrieval,
        "exact_match": metrics.exact_match(answer.text, row.answers),
        "f1": metrics.token_f1(answer.text, row.answers),
        "rouge_l": metrics.rouge_l(answer.text, row.answers),
        "refusal": float(metrics.is_refusal(answer.text)),
        "grounded": metrics.grounded_share(answer.text, answer.sources),
        "citation_precision": metrics.citation_precision(answer.text, answer.sources),
    }


def _result(row: QARow, answer: Answer | None, error: str | None, k: int) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": row.id,
        "question": row.question,
        "answers": row.answers,
        "domain": row.domain,
        "doc_id": row.doc_id,
    }
    if answer is None:
        return {**base, "error": error}
    return {
        **base,
        "answer": answer.text,
        "sources": [
            {"doc_id": s.doc_id, "chunk_id": s.chunk_id, "score": s.score} for s in answer.sources
        ],
        "backend": answer.backend,
        "model": answer.model,
        "adapter": answer.adapter,
        "route": answer.route,
        "timings": answer.timings,
        "usage": asdict(answer.usage),
        "metrics": row_metrics(row, answer, k),
        "error": None,
    }


def read_results(out: Path) -> list[dict[str, Any]]:
    """The result lines of a run folder (a torn last line from a kill is ignored)."""
    path = out / RESULTS_FILE
    if not path.is_file():
        return []
    results = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("ignoring a torn line in %s", path)
    return results


def run_eval(
    dataset: str | Path,
    out: str | Path,
    *,
    settings: Settings,
    backend: str | None = None,
    adapter: str | None = None,
    domain: str | None = None,
    top_k: int | None = None,
    limit: int | None = None,
    pipeline: Pipeline | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate every row of `dataset` into `out` (resuming) and return the report."""
    from eval.report import write_report

    dataset, out = Path(dataset), Path(out)
    rows = read_qa(dataset)
    if limit is not None:
        rows = rows[:limit]
    config = EvalConfig(str(dataset), file_hash(dataset), backend, adapter, domain, top_k, limit)
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, config)
    _drop_torn_line(out / RESULTS_FILE)
    done = {r["id"] for r in read_results(out)}
    pending = [r for r in rows if r.id not in done]
    k = top_k or settings.top_k
    own = pipeline is None
    qa = pipeline or Pipeline(settings)
    batch = (
        settings.generation_batch_size
        if (backend or "") != "claude"
        else (settings.claude_concurrency * 2)
    )
    try:
        with (
            (out / RESULTS_FILE).open("a", encoding="utf-8") as sink,
            tqdm(
                total=len(rows),
                initial=len(rows) - len(pending),
                desc="evaluating",
                unit="row",
                disable=None if show_progress is None else not show_progress,
            ) as bar,
        ):
            for start in range(0, len(pending), batch):
                part = pending[start : start + batch]
                for result in _answer(qa, part, config, k):
                    sink.write(json.dumps(result, ensure_ascii=False) + "\n")
                sink.flush()
                bar.update(len(part))
        return write_report(out, config, read_results(out), qa)
    finally:
        if own:
            qa.close()


def _drop_torn_line(path: Path) -> None:
    """Cut a last line a kill left half-written, so appended results start on a new line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _check_resume(out: Path, config: EvalConfig) -> None:
    run_file = out / RUN_FILE
    if run_file.is_file():
        previous = json.loads(run_file.read_text())
        if previous != asdict(config):
            raise ConfigError(
                f"{out} holds a run with other settings ({previous}); use another --out or "
                "delete it"
            )
    else:
        run_file.write_text(json.dumps(asdict(config), indent=2))


def _answer(
    qa: Pipeline, rows: Sequence[QARow], config: EvalConfig, k: int
) -> list[dict[str, Any]]:
    options: dict[str, Any] = {
        "backend": config.backend,
        "adapter": config.adapter,
        "domain": config.domain,
        "top_k": config.top_k,
    }
    try:
        answers = qa.ask_many([r.question for r in rows], **options)
        return [_result(r, a, None, k) for r, a in zip(rows, answers, strict=True)]
    except AdaptragError:
        pass
    results, errors = [], []
    for row in rows:  # find the rows that fail; the others still count
        try:
            results.append(_result(row, qa.ask(row.question, **options), None, k))
        except AdaptragError as error:
            errors.append(error)
            results.append(_result(row, None, f"{type(error).__name__}: {error}", k))
    # The same configuration error on every row is the run's problem, not the rows'.
    same_config_error = all(isinstance(e, ConfigError) for e in errors) and (
        len({str(e) for e in errors}) == 1
    )
    if len(errors) == len(rows) and same_config_error:
        raise errors[0]
    return results
