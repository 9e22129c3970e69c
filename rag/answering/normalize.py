"""SQuAD's answer normalization: how two answers, or an answer and a source, are compared.

Lower-case, drop punctuation and the articles a/an/the, collapse whitespace; citation
markers like `[1]` are removed first (they are not part of the answer). The grounding
check compares values this way, and evaluation scores answers this way (`eval.scoring`).
"""

from __future__ import annotations

import re
import string

from adaptrag.rag.answering.citations import CITATION_PATTERN

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalization, after removing citation markers."""
    text = CITATION_PATTERN.sub(" ", text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())
