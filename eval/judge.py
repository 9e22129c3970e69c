"""An optional LLM judge (Claude) for correctness and faithfulness.

The judge sees the question, the gold answers, the retrieved sources and the system's answer,
and replies with a JSON verdict. Its prompt is versioned (`JUDGE_PROMPT_VERSION`, recorded in
the report), it answers through the same `Generator` seam as the pipeline (concurrent,
retried, priced), and a verdict it cannot parse counts as missing, never as a score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.generators.base import Generator
from rag.prompts import Prompt, format_source
from rag.types import Source, Usage

JUDGE_PROMPT_VERSION = "judge-v1"
JUDGE_MAX_TOKENS = 200
JUDGE_SYSTEM = """You grade the answers of a question-answering system that answers from \
retrieved sources.

Judge two things:
- correct: the answer says the same thing as one of the gold answers (wording may differ; \
extra correct detail is fine; a refusal such as "I don't know." is not correct).
- faithful: every claim in the answer is supported by the sources shown (a refusal is \
faithful; claims from outside the sources are not).

Reply with one JSON object and nothing else:
{"correct": true or false, "faithful": true or false, "reason": "one short sentence"}"""

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
    return Prompt(system=JUDGE_SYSTEM, user=user, sources=tuple(sources))


def parse_verdict(text: str, usage: Usage) -> Verdict:
    """The verdict in the judge's reply; unusable replies give None grades and say why."""
    match = _OBJECT.search(text)
    try:
        data = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), bool) for key in ("correct", "faithful")
    ):
        return Verdict(None, None, f"unparseable judge reply: {text[:120]!r}", usage)
    return Verdict(
        float(data["correct"]), float(data["faithful"]), str(data.get("reason", "")), usage
    )


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
        return [parse_verdict(g.text, g.usage) for g in generations]
