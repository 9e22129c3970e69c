"""Bootstrapping QA data: question/answer pairs written from a domain's chunks by a model.

For teams with no labelled data. Each sampled chunk goes to the generator (Claude, or the
local model) with a request for one question whose answer is a short span of the chunk, as
JSON. Pairs whose answer is not in the chunk are rejected (the model made it up); the
chunk is kept as the pair's `evidence`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from typing import Any

from adaptrag.adapters.raft import holds_answer
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.generators import Generator
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.stores import VectorStore, Where
from adaptrag.rag.types import QARow

SYNTH_SYSTEM = (
    "You write one exam question about a passage and its answer. The answer must be a short "
    "phrase copied exactly from the passage. Reply with JSON only: "
    '{"question": "...", "answer": "..."}'
)
_JSON = re.compile(r"\{.*\}", re.DOTALL)


def synth_prompt(title: str, text: str) -> Prompt:
    """The request for one question about one chunk."""
    user = f'<passage title="{title}">\n{text.strip()}\n</passage>\n\nWrite the JSON now.'
    return Prompt(system=SYNTH_SYSTEM, user=user, sources=())


def parse_pair(reply: str) -> tuple[str, str] | None:
    """(question, answer) from a model's reply, or None when it is not the JSON asked for."""
    match = _JSON.search(reply)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    question, answer = data.get("question"), data.get("answer")
    if not isinstance(question, str) or not isinstance(answer, str):
        return None
    if not question.strip() or not answer.strip():
        return None
    return question.strip(), answer.strip()


def synth_rows(
    store: VectorStore,
    generator: Generator,
    domain: str,
    n: int,
    *,
    seed: int = 0,
    max_new_tokens: int = 160,
) -> tuple[list[dict[str, Any]], int]:
    """Up to `n` QA rows (one per sampled chunk) in our JSONL format, and how many were rejected."""
    if n < 1:
        raise ConfigError("--n must be at least 1")
    chunks = list(
        store.scroll(Where(equals={"domain": domain}), ["doc_id", "chunk_id", "title", "text"])
    )
    if not chunks:
        raise ConfigError(f"domain {domain!r} has no chunks to write questions from; ingest first")
    chunks.sort(key=lambda c: str(c.get("chunk_id")))
    random.Random(seed).shuffle(chunks)
    picked = chunks[:n]
    prompts = [synth_prompt(str(c.get("title") or c.get("doc_id")), str(c["text"])) for c in picked]
    generations = generator.generate_many(prompts, max_new_tokens=max_new_tokens)
    rows, rejected = [], 0
    for number, (chunk, generation) in enumerate(zip(picked, generations, strict=True)):
        pair = parse_pair(generation.text)
        probe = QARow(id="", question="", answers=[pair[1]] if pair else [])
        if pair is None or not holds_answer(str(chunk["text"]), probe):
            rejected += 1
            continue
        rows.append(
            {
                "id": f"synth-{domain}-{seed}-{number}",
                "domain": domain,
                "question": pair[0],
                "answers": [pair[1]],
                "evidence": [chunk["text"]],
                "doc_id": chunk.get("doc_id"),
            }
        )
    return rows, rejected


def write_rows(rows: Sequence[dict[str, Any]], path: Any) -> None:
    """QA rows as JSON Lines."""
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
