"""Extractive decoding for the local model: the answer is a span copied from its sources.

A transformers `LogitsProcessor` masks every token that would leave the sources' text, so
the model still chooses what to say (greedy over its own scores) but can only say what a
source says:

- the first token starts a span of the prompt's evidence (its best sentences, chosen by
  `rag.answering.evidence` where the pipeline answers) or else of any source, with or without the
  leading space the token has inside the sentence ("ĠZurich" or "Zurich"), capitalised
  or not;
- each next token continues a span that the answer has followed so far (every position
  where it matches is tracked, so "the" starting fifty places narrows as it goes);
- the answer ends with the end-of-turn token, or goes on to its citation: " [" followed
  by the number of a source that holds the span (only those), then "]" (a line break
  only continues a span that has one: a streamed answer never shows a break it then ends);
- "I don't know." is always a span (the prompt's reply when the sources do not answer),
  and so are the label words yes, no and maybe when the question is a yes/no question.

An answer that ends without a citation is cited with the best-ranked source holding it.
The value an answer states is therefore always found verbatim in the source it cites.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from transformers import LogitsProcessor

from adaptrag.rag.prompts import NO_ANSWER, Prompt

LABELS = ("yes", "no", "maybe")
# A question answered by a label: it opens with an auxiliary verb ("Does X reduce Y?").
_POLAR = re.compile(
    r"^\s*(is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might|"
    r"must|shall)\b",
    re.IGNORECASE,
)

SPAN, CITE, DONE = "span", "cite", "done"
# A span of these alone ("The", "of the") says nothing: it may not end there.
FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or"}
    | {"but", "as", "is", "are", "was", "were", "be", "been", "this", "that", "these", "those"}
    | {"it", "its", "their", "there", "which", "who", "whom", "what", "when", "where", "how"}
)


def is_polar(question: str) -> bool:
    """Whether `question` asks for yes, no or maybe (it opens with an auxiliary verb)."""
    return bool(_POLAR.match(question))


@dataclass
class _Row:
    """Where one row's answer stands: the spans it follows, or its citation so far.

    Advancing replaces the lists rather than changing them, so a shallow copy is a snapshot.
    """

    phase: str = SPAN
    # (sequence, index of the next token) for every place the answer matches so far
    matches: list[tuple[int, int]] | None = None  # None: nothing written yet
    says_something: bool = False  # a content token written: the span may end
    cite_matches: list[tuple[int, int]] = field(default_factory=list)


class SpanIndex:
    """The token sequences one prompt's answer may copy from, and the numbers it may cite.

    Sequences are the sources (their order: best first), then "I don't know." and, for a
    yes/no question, the label words; a yes/no question must open with a label (or "I
    don't know."), any other question with a span of a source.
    """

    def __init__(
        self, tokenizer: Any, prompt: Prompt, *, labels: bool, texts: Sequence[str]
    ) -> None:
        def encode(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False).input_ids)

        # Where a span may come from: the prompt's evidence sentences when it has them
        # (rag.answering.evidence), else its whole sources; each with the source it cites.
        copied = list(prompt.evidence) or [
            (number, source.text.strip()) for number, source in enumerate(prompt.sources)
        ]
        words = [*LABELS, *(word.capitalize() for word in LABELS)] if labels else []
        self.origins: list[int | None] = [number for number, _ in copied]
        self.copies = len(copied)
        self.labels = range(self.copies + 1, self.copies + 1 + len(words))
        self.origins += [None] * (1 + len(words))
        self.sequences = [
            *(encode(text) for _, text in copied),
            encode(NO_ANSWER),
            *(encode(w) for w in words),
        ]
        self.citable = [encode(f"{number}]") for number in range(1, len(prompt.sources) + 1)]
        # Where a span may begin and end: at word boundaries, never inside a value; "I
        # don't know." and a label only whole.
        bounds = [
            span_boundaries([texts[t] for t in sequence])
            if index < self.copies
            else (
                [p == 0 for p in range(len(sequence))],
                [p == len(sequence) for p in range(len(sequence) + 1)],
            )
            for index, sequence in enumerate(self.sequences)
        ]
        self.ends = [ends for _, ends in bounds]
        self.starts: dict[int, list[tuple[int, int]]] = defaultdict(list)
        openers = range(self.copies, len(self.sequences)) if labels else None
        for index, sequence in enumerate(self.sequences):
            if openers is not None and index not in openers:
                continue
            begins = bounds[index][0]
            for position, token in enumerate(sequence):
                if begins[position]:
                    self.starts[token].append((index, position + 1))
        # The same word where an answer opens: no leading space, or capitalised.
        for token, places in list(self.starts.items()):
            for variant in _opening_variants(tokenizer, token):
                if variant != token:
                    self.starts[variant] = self.starts.get(variant, []) + places

    def holders(self, matches: Sequence[tuple[int, int]]) -> list[int]:
        """Sources (0-based, best first) that a span described by `matches` may cite.

        A copied span cites the sources it was copied from; a label may cite any source
        (the one the model reasoned from); "I don't know." cites none.
        """
        if any(index in self.labels for index, _ in matches):
            return list(range(len(self.citable)))
        return sorted({n for index, _ in matches if (n := self.origins[index]) is not None})

    def copied(self, matches: Sequence[tuple[int, int]]) -> bool:
        """Whether the span is copied from a source (not a label or "I don't know.")."""
        return any(index < self.copies for index, _ in matches)


# After a number, these go with it: a span does not end before them ("EUR 40.2" of
# "EUR 40.2 million" is another value; "six (6)" of "six (6) months" is not a duration).
VALUE_WORDS = frozenset(
    {"%", "percent", "per", "million", "billion", "thousand", "trillion", "bn", "mn", "m"}
    | {"k", "day", "days", "week", "weeks", "month", "months", "year", "years", "hour"}
    | {"hours", "minute", "minutes", "degrees", "°c", "mg", "ml", "g", "kg", "mmol"}
    | {"euros", "dollars", "pounds", "francs", "business", "calendar", "working"}
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    "eighty|ninety|hundred"
)
# A span does not end on a word that needs what follows ("the laws of", "within").
_DANGLING = frozenset(
    {"a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "within"}
    | {"under", "than", "and", "or", "is", "are", "was", "were", "be", "least", "most", "per"}
)
_OPENING_QUOTES = frozenset("\"'“‘")
_OPENERS = frozenset("(\u201c\u2018$\u20ac\u00a3")
_CLOSING = frozenset(".,;:!?)]}\"'”’")
_ENDS_WITH_NUMBER = re.compile(rf"(\d\)?|\b(?:{_NUMBER_WORDS}))$", re.IGNORECASE)


def span_boundaries(pieces: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """For each position of a token sequence (the tokens' texts): may a span begin there,
    and may it end before it (one more entry: at the end)? Only at word boundaries, and
    never inside a number ("40" "." "2") or between a number and its scale or unit."""

    def boundary(p: int) -> bool:  # between token p - 1 and token p
        if p == 0 or p == len(pieces):
            return True
        before, after = pieces[p - 1], pieces[p]
        if not (after[:1].isspace() or not after[:1].isalnum() or not before[-1:].isalnum()):
            return False  # inside a word
        if before.strip()[-1:].isdigit() and after.strip()[:1] in {".", ","}:
            following = pieces[p + 1] if p + 1 < len(pieces) else ""
            return not following[:1].isdigit()  # 40.2 and 1,200 are one number
        earlier = pieces[p - 2] if p >= 2 else ""
        if before.strip() in {".", ","} and earlier[-1:].isdigit() and after[:1].isdigit():
            return False
        return not (before.strip()[-1:].isdigit() and after[:1].isdigit())  # digits split

    def glued(p: int) -> bool:  # token p is attached to the word before ("+" of "BB+")
        return (
            0 < p < len(pieces)
            and not pieces[p][:1].isspace()
            and not (pieces[p - 1][-1:].isspace() or pieces[p - 1][-1:] in _OPENING_QUOTES)
        )

    begins = [
        boundary(p)
        and not glued(p)  # "18) months" of "(18) months", "2.4%" of "-2.4%"
        and pieces[p].strip()[:1] not in {".", ",", ")", "%"}
        and not (  # a sign starts a span only before its number ("-2.4%")
            pieces[p].strip() in {"+", "-"} and not (pieces[p + 1 : p + 2] or [""])[0][:1].isdigit()
        )
        for p in range(len(pieces))
    ]
    ends, written = [], ""
    for p in range(len(pieces) + 1):
        written += pieces[p - 1] if p else ""  # the span's text up to position p
        following = pieces[p].strip().lower() if p < len(pieces) else ""
        last = (written.strip().split()[-1:] or [""])[0]
        ok = boundary(p) and last.lower() not in _DANGLING and last[-1:] not in _OPENERS
        if ok and glued(p) and following[:1] not in _CLOSING:
            ok = False  # "BB" of "BB+", "one" of "one-year"
        if ok and following.startswith(")"):
            ok = written.count("(") <= written.count(")")  # not inside "(6"
        if ok and following and _ENDS_WITH_NUMBER.search(written.rstrip()):
            # "six (6) months", "21.6%": the figure in brackets and the unit go with it
            ok = following[:1] != "%" and following.rstrip(".,;:") not in VALUE_WORDS | {"("}
        ends.append(ok)
    return begins, ends


def _opening_variants(tokenizer: Any, token: int) -> set[int]:
    piece = tokenizer.convert_ids_to_tokens(token)
    if not isinstance(piece, str) or len(piece) < 2 or not piece.startswith(("Ġ", "▁")):
        bare, space = piece if isinstance(piece, str) else "", ""
    else:
        bare, space = piece[1:], piece[0]
    forms = {bare, bare[:1].upper() + bare[1:]}
    if space:
        forms.add(space + bare[:1].upper() + bare[1:])
    found = set()
    for form in forms:
        variant = tokenizer.convert_tokens_to_ids(form) if form else None
        if variant is not None and variant != tokenizer.unk_token_id:
            found.add(int(variant))
    return found


@dataclass(frozen=True)
class TokenClasses:
    """Tokens by role: the opening of a citation, and the ones that say something."""

    cite_open: frozenset[int]
    content: frozenset[int]  # tokens holding a letter or digit of a word that says something
    texts: tuple[str, ...]  # each token's text, leading space included

    @classmethod
    def of(cls, tokenizer: Any) -> TokenClasses:
        """Read off the whole vocabulary once (the generator keeps the result)."""
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        texts = [tokenizer.convert_tokens_to_string([p]) if p else "" for p in pieces]
        return cls(
            cite_open=frozenset(i for i, text in enumerate(texts) if text.strip() == "["),
            content=frozenset(
                i
                for i, text in enumerate(texts)
                if any(c.isalnum() for c in text) and text.strip().lower() not in FUNCTION_WORDS
            ),
            texts=tuple(texts),
        )


def applies(prompt: Prompt) -> bool:
    """Whether a prompt is answered extractively: a question over sources, not a chat."""
    return bool(prompt.sources) and not prompt.conversation and prompt.tool is None


class ExtractiveProcessor(LogitsProcessor):
    """Masks, for each row of a batch, every token that would not copy from its sources.

    Rows whose prompt has no sources (a chat turn, a plain completion) are left free. Each
    call follows the answer it is shown: when a speculative draft (prompt lookup decoding)
    was rejected, the row's state goes back to where that answer and the draft agree.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompts: Sequence[Prompt],
        *,
        width: int,
        eos: set[int],
        classes: TokenClasses,
    ) -> None:
        self.width = width
        self.eos = sorted(eos)
        self.indexes = [
            SpanIndex(tokenizer, p, labels=is_polar(p.question), texts=classes.texts)
            if applies(p)
            else None
            for p in prompts
        ]
        # per row: the answer's tokens taken into account, and the state after each of them
        self.taken: list[list[int]] = [[] for _ in prompts]
        self.states: list[list[_Row]] = [[_Row()] for _ in prompts]
        self.cite_open = classes.cite_open
        self.content = classes.content

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        """The scores with every token that leaves the sources (per row) set to -inf."""
        mask = torch.full_like(scores, float("-inf"))
        for row_index, index in enumerate(self.indexes):
            if index is None:
                mask[row_index] = 0.0
                continue
            row = self._follow(row_index, index, input_ids[row_index, self.width :].tolist())
            mask[row_index, self._allowed(row, index)] = 0.0
        return scores + mask

    def _follow(self, row_index: int, index: SpanIndex, written: Sequence[int]) -> _Row:
        """The row's state after `written`, from the last state both it and the answer share."""
        taken, states = self.taken[row_index], self.states[row_index]
        same = 0
        while same < min(len(taken), len(written)) and taken[same] == written[same]:
            same += 1
        del taken[same:], states[same + 1 :]
        for token in written[same:]:
            row = replace(states[-1])
            self._advance(row, index, int(token))
            taken.append(int(token))
            states.append(row)
        return states[-1]

    def _advance(self, row: _Row, index: SpanIndex, token: int) -> None:
        if row.phase == SPAN:
            if row.matches and token in self.cite_open:
                row.phase = CITE
                holders = index.holders(row.matches)
                row.cite_matches = [(n, 0) for n in holders]
                if not holders:  # a label or "I don't know." cites no source
                    row.phase = DONE
                return
            if row.matches and token in self.eos:
                row.phase = DONE
                return
            row.says_something = row.says_something or token in self.content
            if row.matches is None:
                row.matches = list(index.starts.get(token, []))
            else:
                row.matches = [
                    (s, p + 1)
                    for s, p in row.matches
                    if p < len(index.sequences[s]) and index.sequences[s][p] == token
                ]
            if not row.matches:  # only when a processor before ours let it through
                row.phase = DONE
        elif row.phase == CITE:
            row.cite_matches = [
                (n, p + 1)
                for n, p in row.cite_matches
                if p < len(index.citable[n]) and index.citable[n][p] == token
            ]
            if not row.cite_matches or any(p == len(index.citable[n]) for n, p in row.cite_matches):
                row.phase = DONE

    def _allowed(self, row: _Row, index: SpanIndex) -> list[int]:
        if row.phase == DONE:
            return self.eos
        if row.phase == CITE:
            return sorted({index.citable[n][p] for n, p in row.cite_matches})
        if row.matches is None:
            return list(index.starts)
        following = {index.sequences[s][p] for s, p in row.matches if p < len(index.sequences[s])}
        may_end = any(index.ends[s][p] for s, p in row.matches)
        if following and not (may_end and (row.says_something or not index.copied(row.matches))):
            return sorted(following)
        return sorted(following | set(self.eos) | self.cite_open)

    def citation(self, row_index: int, written: Sequence[int]) -> int | None:
        """The source number (1-based) to cite for a row's span when it wrote none.

        `written` is the row's answer as generated: its state is taken before the last token,
        where the processor chose that token.
        """
        index = self.indexes[row_index]
        if index is None:
            return None
        row = self._follow(row_index, index, list(written)[:-1])
        if row.phase == CITE or not row.matches or not index.copied(row.matches):
            return None
        holders = index.holders(row.matches)
        return holders[0] + 1 if holders else None


_CITED = re.compile(r"\[\d+\]$")
_UNFINISHED = re.compile(r"\s*\[\d*$")  # a citation cut off by the token limit


def finish_text(text: str, citation: int | None) -> str:
    """The answer as shown: the span, its citation appended when the model wrote none."""
    text = _UNFINISHED.sub("", text.strip()).strip()
    if citation is not None and not _CITED.search(text):
        text = f"{text} [{citation}]"
    return text
