"""Long, templated questions searched by their content words.

Questions written from a template ("Highlight the parts (if any) of this contract related
to "Governing Law" that should be reviewed by a lawyer. Details: Which state's law
governs...?") carry more instruction than content: in the dense query the instruction
outweighs the few words that say what is asked. A question longer than a threshold is
searched (dense and keyword side) by its content words: stop words and the words of
instructions dropped, order kept. The question itself still goes to the model.
"""

from __future__ import annotations

import re

from adaptrag.rag.retrieval.sparse import STOPWORDS_V3

# Words that ask for something rather than say what: the instruction part of a template.
INSTRUCTION_WORDS = frozenset(
    {
        "answer",
        "any",
        "describe",
        "detail",
        "details",
        "document",
        "explain",
        "find",
        "give",
        "highlight",
        "identify",
        "if",
        "information",
        "list",
        "mention",
        "mentioned",
        "part",
        "parts",
        "please",
        "provide",
        "related",
        "relevant",
        "review",
        "reviewed",
        "show",
        "tell",
        "text",
    }
)
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)


def content_words(question: str, over: int) -> str:
    """`question`'s content words when it has more than `over` words, else the question.

    `over` = 0 turns the step off. A question whose content words would be fewer than
    three is kept as it is (nothing would be left to search by).
    """
    words = _WORD.findall(question)
    if over <= 0 or len(words) <= over:
        return question
    kept = [w for w in words if w.lower() not in STOPWORDS_V3 | INSTRUCTION_WORDS]
    return " ".join(kept) if len(kept) >= 3 else question
