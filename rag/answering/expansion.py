"""Query expansion: a model names the words the answer's passage would use, before search.

Users ask by concept ("is the company capital-intensive?"); the passage that answers holds
the statement's and the line items' words ("purchases of property and equipment"). With
`query_expansion` set to a backend (Claude, or an OpenAI-compatible server), that model
writes up to three short search queries in those words, and retrieval searches the
question followed by them (query2doc's form: one search, no fusion to tune). The question
the answering model reads is unchanged.

It costs a model call per question, before the search: `Answer.timings["expand_ms"]` says
how long, and the call's tokens and cost join `Answer.usage`. A call that fails (the API
down, a rate limit) is logged and the question is searched as asked. The local model is not
offered: SmolLM2-135M's phrasings lowered the analyst page hit from 0.76 to 0.64 (docs).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from adaptrag.rag.errors import AdaptragError
from adaptrag.rag.generators.base import Generator
from adaptrag.rag.infra.load_timing import Stopwatch
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.types import Usage

logger = logging.getLogger(__name__)

EXPANSION_BACKENDS = ("none", "claude", "openai")
MAX_PHRASINGS = 3
MAX_PHRASING_CHARS = 200
MAX_NEW_TOKENS = 96
SYSTEM = (
    "You help search a collection of documents (filings, contracts, protocols...). Given a "
    "question, write up to three short search queries, one per line, each in the words a "
    "passage that answers it would use: the name of the statement, section or clause that "
    "holds the answer, and the items, terms or values it lists. Write only the queries: no "
    "numbering, no explanation, no answer."
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


@dataclass(frozen=True)
class Expansion:
    """What expansion added to one question: its search queries, their cost and time."""

    phrasings: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    ms: float = 0.0

    def search_text(self, text: str) -> str:
        """`text` (what the question searches) followed by the phrasings, a line each."""
        return "\n".join((text, *self.phrasings))


def phrasings_of(reply: str) -> tuple[str, ...]:
    """The search queries in a model's reply: its lines, bullets and quotes stripped, at
    most `MAX_PHRASINGS` of at most `MAX_PHRASING_CHARS` characters."""
    found = []
    for line in reply.splitlines():
        phrasing = _BULLET.sub("", line).strip().strip("\"'`").strip()
        if phrasing and phrasing not in found:
            found.append(phrasing[:MAX_PHRASING_CHARS])
    return tuple(found[:MAX_PHRASINGS])


class QueryExpander:
    """Writes each question's search queries with `generator` (Claude or a served model)."""

    def __init__(self, generator: Generator, max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens

    def expand(self, question: str) -> Expansion:
        """The question's search queries; none (logged) when the model call fails."""
        watch = Stopwatch()
        try:
            generation = self.generator.generate(
                Prompt(SYSTEM, question, ()), max_new_tokens=self.max_new_tokens
            )
        except AdaptragError as error:
            logger.warning("query expansion failed, searching the question as asked: %s", error)
            return Expansion(ms=watch.ms())
        return Expansion(phrasings_of(generation.text), generation.usage, watch.ms())
