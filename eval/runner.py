"""Running an evaluation: every QA row through the real pipeline, one result line at a time.

Rows go through `Pipeline.ask_many` in batches (batched local generation, concurrent Claude
calls); semantic similarity embeds each batch's answers and gold answers in one call, and the
optional LLM judge grades the batch concurrently. Each row's result, with its metrics, is
appended to `DIR/results.jsonl` as soon as its batch completes, so an interrupted run resumes
where it stopped; a batch that fails is retried row by row and a row that still fails is
recorded with its error. `DIR/run.json` holds the configuration: resuming with other settings
is refused.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from adaptrag.eval import metrics
from adaptrag.eval.config import EvalConfig
from adaptrag.eval.datasets import file_hash, read_qa
from adaptrag.eval.doc_ids import match_doc_ids
from adaptrag.eval.judge import Judge, Verdict, judge_prompt
from adaptrag.eval.report import write_report
from adaptrag.eval.scoring import answer_scores
from adaptrag.rag.answering.grounding import check_values
from adaptrag.rag.answering.pipeline import Pipeline
from adaptrag.rag.errors import AdaptragError, BackendError, ConfigError
from adaptrag.rag.infra.load_timing import Stopwatch, load_clock
from adaptrag.rag.infra.secrets import claude_configured
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Answer, QARow, Source, Usage

logger = logging.getLogger(__name__)
RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"


def retrieval_metrics(
    row: QARow, retrieved: Sequence[Source], k: int, *, within_document: bool = False
) -> dict[str, float | None]:
    """hit@k, recall@k, MRR and nDCG@k of what retrieval returned, best first (None where
    the row has no retrieval gold)."""
    ranks = metrics.relevant_ranks(row, retrieved, within_document=within_document)
    return _ranked_metrics(row, retrieved, ranks, k, within_document)


def _ranked_metrics(
    row: QARow,
    retrieved: Sequence[Source],
    ranks: list[int] | None,
    k: int,
    within_document: bool,
) -> dict[str, float | None]:
    gold = metrics.gold_count(row, within_document=within_document)
    return {
        "hit_at_k": None if ranks is None else metrics.hit_at_k(ranks, k),
        "recall_at_k": metrics.recall_at_k(row, retrieved, k, within_document=within_document),
        "mrr": None if ranks is None else metrics.mrr(ranks),
        "ndcg_at_k": None if ranks is None else metrics.ndcg_at_k(ranks, k, gold),
    }


def row_metrics(
    row: QARow, answer: Answer, k: int, *, within_document: bool = False
) -> dict[str, float | None]:
    """The per-row metrics that need nothing but the row and the answer (None where the row
    has no gold for a metric).

    Retrieval is scored on everything retrieved (the prompt's sources, then what the prompt
    budget dropped); `gold_dropped` is 1 when relevant sources were retrieved but none of
    them fit into the prompt.
    """
    retrieved = [*answer.sources, *answer.dropped]
    ranks = metrics.relevant_ranks(row, retrieved, within_document=within_document)
    in_prompt = [r for r in ranks or [] if r <= len(answer.sources)]
    return {
        **_ranked_metrics(row, retrieved, ranks, k, within_document),
        "gold_dropped": None if not ranks else float(not in_prompt),
        **answer_scores(answer.text, [s.text for s in answer.sources], row.answers),
        "rouge_l": metrics.rouge_l(answer.text, row.answers),
        "refusal": float(metrics.is_refusal(answer.text)),
        "grounded": metrics.grounded_share(answer.text, answer.sources),
        "values_supported": _values_supported(answer),
        "citation_precision": metrics.citation_precision(answer.text, answer.sources),
    }


def _values_supported(answer: Answer) -> float | None:
    """1.0 when every value of the answer is in its sources, 0.0 when one is not, None when
    it states none (an answer built without a verdict gets one here)."""
    verdict = answer.grounding or check_values(answer.text, answer.sources)
    return None if verdict.supported is None else float(verdict.supported)


def _row_fields(row: QARow) -> dict[str, Any]:
    """What every result line says of its row."""
    return {
        "id": row.id,
        "question": row.question,
        "answers": row.answers,
        "domain": row.domain,
        "doc_id": row.doc_id,
    }


RESULT_SOURCE_FIELDS = ("doc_id", "chunk_id", "score", "page", "label", "text")


def _source_fields(sources: Sequence[Source]) -> list[dict[str, Any]]:
    """The sources of a result line, best first: `Source.to_dict` less the payload (ids,
    score, page, label and the text the model saw: the HTML report shows it; the RAGAS
    export needs it)."""
    return [{k: d[k] for k in RESULT_SOURCE_FIELDS} for d in (s.to_dict() for s in sources)]


def _result(
    row: QARow, answer: Answer | None, error: str | None, k: int, config: EvalConfig
) -> dict[str, Any]:
    base = _row_fields(row)
    if answer is None:
        return {**base, "error": error}
    return {
        **base,
        "answer": answer.text,
        "sources": _source_fields(answer.sources),
        "backend": answer.backend,
        "model": answer.model,
        "adapter": answer.adapter,
        "route": answer.route,
        "timings": answer.timings,
        "usage": asdict(answer.usage),
        "metrics": row_metrics(row, answer, k, within_document=config.within_document),
        "error": None,
    }


def _add_semantic(
    qa: Pipeline,
    rows: Sequence[QARow],
    answers: Sequence[Answer | None],
    results: Sequence[dict[str, Any]],
) -> None:
    """Semantic similarity of each answer to its gold answers, with one embedding call."""
    answered = [i for i, a in enumerate(answers) if a is not None]
    if not answered:
        return
    texts = [answers[i].text for i in answered]  # type: ignore[union-attr]
    golds = [g for i in answered for g in rows[i].answers]
    vectors = qa.retriever.embedder.embed_passages(texts + golds)
    start = len(texts)
    for n, i in enumerate(answered):
        count = len(rows[i].answers)
        gold = vectors[start : start + count]
        start += count
        results[i]["metrics"]["semantic_similarity"] = metrics.semantic_similarity(vectors[n], gold)


def _add_verdicts(
    judge: Judge,
    rows: Sequence[QARow],
    answers: Sequence[Answer | None],
    results: Sequence[dict[str, Any]],
) -> None:
    """The LLM judge's correctness and faithfulness grades, with its cost kept apart."""
    answered = [i for i, a in enumerate(answers) if a is not None]
    prompts = [
        judge_prompt(rows[i].question, rows[i].answers, a.text, a.sources)
        for i in answered
        if (a := answers[i]) is not None
    ]
    try:
        verdicts = judge.grade_many(prompts)
    except BackendError as error:  # the answers still count; the grades are missing
        verdicts = [Verdict(None, None, f"judge failed: {error}", Usage()) for _ in prompts]
    for i, verdict in zip(answered, verdicts, strict=True):
        results[i]["metrics"]["judge_correct"] = verdict.correct
        results[i]["metrics"]["judge_faithful"] = verdict.faithful
        results[i]["judge"] = {"reason": verdict.reason, "usage": asdict(verdict.usage)}


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
    judge: bool = False,
    pipeline: Pipeline | None = None,
    show_progress: bool | None = None,
    scope: str | None = None,
    retrieval_only: bool = False,
    max_new_tokens: int | None = None,
) -> dict[str, Any]:
    """Evaluate every row of `dataset` into `out` (resuming) and return the report.

    `scope="doc_id"` / `"domain"` searches each row within its own document / domain;
    `retrieval_only` scores retrieval alone (no generation: fast on large sets).
    """
    if judge and not claude_configured():
        raise ConfigError("the LLM judge is Claude: set ANTHROPIC_API_KEY, or drop --judge")
    if scope not in (None, "doc_id", "domain"):
        raise ConfigError(f"unknown scope {scope!r}; use doc_id or domain")
    if judge and retrieval_only:
        raise ConfigError("a retrieval-only run has no answers to judge; drop --judge")
    dataset, out = Path(dataset), Path(out)
    rows = read_qa(dataset)
    if limit is not None:
        rows = rows[:limit]
    config = EvalConfig(
        str(dataset),
        file_hash(dataset),
        backend,
        adapter,
        domain,
        top_k,
        limit,
        judge,
        scope,
        retrieval_only,
        max_new_tokens,
    )
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, config)
    _drop_torn_line(out / RESULTS_FILE)
    done = {r["id"] for r in read_results(out)}
    pending = [r for r in rows if r.id not in done]
    k = top_k or settings.retrieval.top_k
    own = pipeline is None
    qa = pipeline or Pipeline(settings)
    concurrent = {
        "claude": settings.claude.claude_concurrency,
        "openai": settings.openai.openai_concurrency,
    }
    batch = (
        concurrent[backend] * 2
        if backend in concurrent
        else settings.local_model.generation_batch_size
    )
    try:
        pending = _matched(qa, pending)
        grader = Judge(qa.generator("claude")) if judge else None
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
            lines = show_progress is None and bool(bar.disable)  # no TTY: lines instead
            progress = ProgressLines(len(rows), len(rows) - len(pending), lines)
            for start in range(0, len(pending), batch):
                part = pending[start : start + batch]
                for result in _evaluate(qa, grader, part, config, k):
                    sink.write(json.dumps(result, ensure_ascii=False) + "\n")
                sink.flush()
                bar.update(len(part))
                progress.update(len(part))
        return write_report(out, config, read_results(out), qa, grader)
    finally:
        if own:
            qa.close()


def _matched(qa: Pipeline, rows: list[QARow]) -> list[QARow]:
    """`rows` with their doc_ids matched to the stored ones (`eval.doc_ids`); a warning
    when some name no stored document."""
    if not any(r.doc_id for r in rows):
        return rows
    matched = match_doc_ids(rows, qa.retriever.store.facet("doc_id"))
    if warning := matched.warning(len(rows)):
        logger.warning("%s", warning)
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return matched.rows


class ProgressLines:
    """Progress as plain lines on stderr where no bar is drawn (no TTY: CI, logs, nohup):
    one line at most every `every_s` seconds, and one at the end."""

    def __init__(self, total: int, done: int, enabled: bool, every_s: float = 10.0) -> None:
        self.total, self.done, self.enabled, self.every_s = total, done, enabled, every_s
        self.started = self.last = time.monotonic()
        self.first = done

    def update(self, count: int) -> None:
        """Count `count` more rows; print a line when it is time (or the run is done)."""
        self.done += count
        now = time.monotonic()
        if not self.enabled or (now - self.last < self.every_s and self.done < self.total):
            return
        self.last = now
        rate = (self.done - self.first) / max(now - self.started, 1e-9)
        print(
            f"evaluating: {self.done}/{self.total} rows, {rate:.2f} rows/s",
            file=sys.stderr,
            flush=True,
        )


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
    qa: Pipeline, rows: Sequence[QARow], config: EvalConfig
) -> list[tuple[Answer | None, str | None]]:
    """Each row's answer or error: the batch at once, else row by row to find the failures."""
    queries = [config.query(row) for row in rows]
    try:
        return [(a, None) for a in qa.answer(queries)]
    except AdaptragError:
        pass
    outcomes: list[tuple[Answer | None, str | None]] = []
    errors = []
    for query in queries:
        try:
            outcomes.append((qa.answer([query])[0], None))
        except AdaptragError as error:
            errors.append(error)
            outcomes.append((None, f"{type(error).__name__}: {error}"))
    # The same configuration error on every row is the run's problem, not the rows'.
    same_config_error = all(isinstance(e, ConfigError) for e in errors) and (
        len({str(e) for e in errors}) == 1
    )
    if len(errors) == len(rows) and same_config_error:
        raise errors[0]
    return outcomes


def _retrieval_result(qa: Pipeline, row: QARow, config: EvalConfig, k: int) -> dict[str, Any]:
    """A row of a retrieval-only run: the sources, their scores and the search latency."""
    base = _row_fields(row)
    with load_clock() as clock:
        watch = Stopwatch()
        try:
            sources = qa.retrieve(config.query(row))
        except AdaptragError as error:
            return {**base, "error": f"{type(error).__name__}: {error}"}
        elapsed = watch.ms()
    timings = {"embed_ms": 0.0, "search_ms": elapsed, "generate_ms": 0.0, "total_ms": elapsed}
    return {
        **base,
        "sources": _source_fields(sources),
        "timings": {**timings, "load_ms": clock.ms},
        "usage": asdict(Usage()),
        "metrics": retrieval_metrics(row, sources, k, within_document=config.within_document),
        "error": None,
    }


def _evaluate(
    qa: Pipeline, judge: Judge | None, rows: Sequence[QARow], config: EvalConfig, k: int
) -> list[dict[str, Any]]:
    """The result lines of a batch of rows: answers, their metrics, and the judge's grades."""
    if config.retrieval_only:
        return [_retrieval_result(qa, row, config, k) for row in rows]
    outcomes = _answer(qa, rows, config)
    answers = [answer for answer, _ in outcomes]
    results = [_result(r, a, e, k, config) for r, (a, e) in zip(rows, outcomes, strict=True)]
    _add_semantic(qa, rows, answers, results)
    if judge is not None:
        _add_verdicts(judge, rows, answers, results)
    return results
