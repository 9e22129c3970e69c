"""An optional LLM judge (Claude) for correctness and faithfulness.

The judge sees the question, the gold answers, the retrieved sources and the system's answer,
and grades by calling a tool (`record_verdict`, structured output checked by its schema:
two booleans and a reason). Its prompt is versioned (`JUDGE_PROMPT_VERSION`, recorded in
the report), it answers through the same `Generator` seam as the pipeline (concurrent,
retried, priced). A verdict it cannot use (no tool call and no JSON object in the text, or
fields of the wrong type) counts as missing, never as a score, and the report says how many
rows the judge could grade (`judge_coverage`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adaptrag.rag.generators.base import Generation, Generator
from adaptrag.rag.prompts import Prompt, Tool, format_source
from adaptrag.rag.types import Source, Usage

JUDGE_PROMPT_VERSION = "judge-v2"
JUDGE_MAX_TOKENS = 300
JUDGE_SYSTEM = """You grade the answers of a question-answering system that answers from \
retrieved sources.

Judge two things:
- correct: the answer says the same thing as one of the gold answers (wording may differ; \
extra correct detail is fine; a refusal such as "I don't know." is not correct).
- faithful: every claim in the answer is supported by the sources shown (a refusal is \
faithful; claims from outside the sources are not).

Record your grade with the record_verdict tool. Without tools, reply with one JSON object \
and nothing else:
{"correct": true or false, "faithful": true or false, "reason": "one short sentence"}"""
JUDGE_TOOL = Tool(
    name="record_verdict",
    description="Record the grade of one answer.",
    input_schema={
        "type": "object",
        "properties": {
            "correct": {
                "type": "boolean",
                "description": "The answer says the same thing as one of the gold answers.",
            },
            "faithful": {
                "type": "boolean",
                "description": "Every claim in the answer is supported by the sources shown.",
            },
            "reason": {"type": "string", "description": "One short sentence."},
        },
        "required": ["correct", "faithful", "reason"],
    },
)
UNPARSEABLE = "unparseable judge reply"

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """The judge's grade of one answer (None fields: the judge's reply was unusable)."""

    correct: float | None
    faithful: float | None
    reason: str
    usage: Usage


def judge_prompt(
    question: str, gold: Sequence[str], answer: str, sources: Sequence[Source]
) -> Prompt:
    """The judge's prompt for one answered row."""
    blocks = "\n\n".join(format_source(n, s) for n, s in enumerate(sources, start=1))
    golds = "\n".join(f"- {g}" for g in gold)
    user = (
        f"Sources:\n{blocks or 'none'}\n\nQuestion: {question}\n\nGold answers:\n{golds}\n\n"
        f"Answer to grade:\n{answer}"
    )
    return Prompt(system=JUDGE_SYSTEM, user=user, sources=tuple(sources), tool=JUDGE_TOOL)


def _verdict(data: Any, usage: Usage, shown: str) -> Verdict:
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), bool) for key in ("correct", "faithful")
    ):
        return Verdict(None, None, f"{UNPARSEABLE}: {shown[:120]!r}", usage)
    return Verdict(
        float(data["correct"]), float(data["faithful"]), str(data.get("reason", "")), usage
    )


def parse_verdict(text: str, usage: Usage) -> Verdict:
    """The verdict in a text reply (a backend without tool use); unusable replies give None
    grades and say why."""
    match = _OBJECT.search(text)
    try:
        data = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        data = None
    return _verdict(data, usage, text)


def verdict_of(generation: Generation) -> Verdict:
    """The verdict of one reply: the tool call's arguments, else JSON in the text."""
    if generation.data is not None:
        return _verdict(generation.data, generation.usage, json.dumps(generation.data))
    return parse_verdict(generation.text, generation.usage)


def is_unparseable(reason: str) -> bool:
    """Whether a verdict's reason says the judge's reply could not be used."""
    return reason.startswith(UNPARSEABLE)


class Judge:
    """Grades answers with a generator (Claude), concurrently."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    @property
    def model(self) -> str:
        """The judging model's id."""
        return self.generator.model

    def grade_many(self, prompts: Sequence[Prompt]) -> list[Verdict]:
        """One verdict per prompt, in order."""
        generations = self.generator.generate_many(prompts, max_new_tokens=JUDGE_MAX_TOKENS)
        return [verdict_of(g) for g in generations]


def judge_coverage(judged: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many of the rows sent to the judge it graded; the others, by why not."""
    graded = sum(1 for r in judged if r["metrics"].get("judge_correct") is not None)
    unparseable = sum(1 for r in judged if is_unparseable(r["judge"]["reason"]))
    return {
        "asked": len(judged),
        "graded": graded,
        "unparseable": unparseable,
        "failed": len(judged) - graded - unparseable,
        "coverage": graded / len(judged),
    }


def coverage_line(summary: Mapping[str, Any]) -> str:
    """'judge graded 9 of 10 answers (1 unparseable, 0 failed; cost $0.0100)', or ''."""
    cover = summary.get("judge_coverage")
    if not cover:
        return ""
    return (
        f"judge graded {cover['graded']} of {cover['asked']} answers ({cover['unparseable']} "
        f"unparseable, {cover['failed']} failed; judge cost ${summary['judge_cost_usd']:.4f})"
    )
