"""Retrieval-aware training examples (RAFT-style, with the retriever's own hard negatives).

For each QA row the real retriever searches the domain's collection. The oracle is the
retrieved chunk holding the answer (or the row's `evidence` when the retriever misses it);
the distractors are the best-ranked chunks that do not hold it. With probability
`oracle_p` the prompt holds the oracle among the distractors and the target is the answer
cited with the oracle's number; otherwise it holds distractors only and the target is the
prompt's fixed "I don't know." Prompts come from `rag.prompts`, the module that serves
answers, so the adapter is trained on exactly what it will see.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adaptrag.eval.scoring import LABELS
from adaptrag.rag.answering.normalize import normalize_answer
from adaptrag.rag.prompts import NO_ANSWER, Prompt, fit_prompt
from adaptrag.rag.retrieval.retriever import Retriever, SearchOptions, build_where
from adaptrag.rag.types import QARow, Source


@dataclass(frozen=True)
class RaftSettings:
    """How examples are built."""

    distractors: int = 3
    oracle_p: float = 0.8
    seed: int = 0


@dataclass(frozen=True)
class TrainingExample:
    """A prompt and the completion the adapter should learn for it."""

    row_id: str
    prompt: Prompt
    target: str
    has_oracle: bool


def holds_answer(text: str, row: QARow) -> bool:
    """Whether `text` contains one of the row's answers (after SQuAD normalization)."""
    normalized = f" {normalize_answer(text)} "
    return any(f" {normalize_answer(a)} " in normalized for a in row.answers if a.strip())


def verbatim_answer(row: QARow, text: str) -> str:
    """The row's first answer as `text` writes it (its casing and spacing), if found there:
    the form extractive decoding can copy; else the answer as the dataset gives it. A
    yes/no/maybe row keeps its label."""
    if normalize_answer(row.answers[0]) in LABELS:
        return row.answers[0].strip()
    for answer in row.answers:
        words = answer.strip().split()
        if not words:
            continue
        pattern = r"\s+".join(re.escape(word) for word in words)
        found = re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE)
        if found:
            return found.group(0)
    return row.answers[0].strip()


def find_oracle(row: QARow, retrieved: Sequence[Source], domain: str) -> Source | None:
    """The chunk that answers: retrieved (its document first), else the row's evidence."""
    holding = [s for s in retrieved if holds_answer(s.text, row)]
    same_doc = [s for s in holding if row.doc_id and s.doc_id == row.doc_id]
    if same_doc or holding:
        return (same_doc or holding)[0]
    if row.evidence:
        title = row.doc_id or "evidence"
        return Source(
            doc_id=row.doc_id or f"evidence-{row.id}",
            chunk_id=f"evidence-{row.id}",
            text=row.evidence[0],
            score=0.0,
            metadata={"title": title, "domain": domain},
        )
    return None


def build_examples(
    rows: Sequence[QARow],
    retriever: Retriever,
    domain: str,
    raft: RaftSettings,
    *,
    count_tokens: Callable[[Prompt], int],
    budget_tokens: int,
) -> tuple[list[TrainingExample], int]:
    """Examples for the rows, and how many rows were skipped (no oracle to be found)."""
    rng = random.Random(raft.seed)
    options = SearchOptions(top_k=raft.distractors + 4, merge_adjacent=False)
    where = build_where(domain=domain)
    retrievals = retriever.search_many([(r.question, where, options) for r in rows])
    examples, skipped = [], 0
    for row, retrieval in zip(rows, retrievals, strict=True):
        oracle = find_oracle(row, retrieval.sources, domain)
        if oracle is None:
            skipped += 1
            continue
        distractors = [
            s
            for s in retrieval.sources
            if s.chunk_id != oracle.chunk_id and not holds_answer(s.text, row)
        ][: raft.distractors]
        with_oracle = rng.random() < raft.oracle_p
        sources = [*distractors, oracle] if with_oracle else list(distractors)
        rng.shuffle(sources)
        prompt, _ = fit_prompt(
            row.question, sources, count_tokens=count_tokens, budget_tokens=budget_tokens
        )
        kept = [s.chunk_id for s in prompt.sources]
        if oracle.chunk_id in kept:
            answer = verbatim_answer(row, oracle.text)
            target = f"{answer} [{kept.index(oracle.chunk_id) + 1}]"
        else:
            target = NO_ANSWER
        examples.append(TrainingExample(row.id, prompt, target, oracle.chunk_id in kept))
    return examples, skipped
