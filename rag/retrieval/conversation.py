"""Follow-up questions searched as standalone ones.

In a conversation, "And what is her notice period?" names neither the contract nor the
employee: searched as written it finds any notice period. The earlier user turns lend it
the words it leaves out: a follow-up that refers back (a pronoun or demonstrative such as
it, its, she, that, there; or an opening "and", "what about") or names nothing (no
capitalised word after its first) is searched together with the last `TURNS` user
questions; a follow-up that names its own subject ("What is the rent under the Orbit
lease?") is searched as written.

This is a rule, not a model call: the local model is too small to rewrite reliably, and
the rule costs nothing. Measured on `examples/qa/followups.jsonl` (28 follow-ups written
from the demo corpus, each with the standalone question it stands for) by
`benchmarks/bench_conversation.py`. The answering prompt keeps the follow-up as asked
(the prompt every backend and adapter is trained on): only the search sees the history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

TURNS = 2
_REFERENCES = frozenset(
    {"it", "its", "itself", "they", "them", "their", "theirs", "he", "him", "his", "she"}
    | {"her", "hers", "this", "that", "these", "those", "there", "thereof", "same", "former"}
    | {"latter", "one", "ones"}
)
_OPENERS = ("and ", "also ", "what about ", "how about ", "and,")
_WORD = re.compile(r"[A-Za-z][\w'-]*")

Turn = tuple[str, str]
"""(role, text): role "user" or "assistant"."""


def refers_back(question: str) -> bool:
    """Whether a follow-up needs earlier turns to be understood (see the module)."""
    words = _WORD.findall(question)
    lowered = question.strip().lower()
    if lowered.startswith(_OPENERS) or any(w.lower() in _REFERENCES for w in words):
        return True
    return not any(w[0].isupper() for w in words[1:] if w != "I")


def search_text(question: str, history: Sequence[Turn]) -> str:
    """What to search for `question` asked after `history` (oldest turn first)."""
    asked = [text.strip() for role, text in history if role == "user" and text.strip()]
    if not asked or not refers_back(question):
        return question
    return " ".join([question.strip(), *asked[-TURNS:]])
