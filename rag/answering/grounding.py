"""Is each value an answer states held by a source? The grounding verdict of every answer.

A value is what a reader would copy from the answer into a decision: a number (with its
scale: "$32 million" is 32,000,000), an amount (a currency sign or code), a percentage, a
duration (a number with day/week/month/year/hour/minute), a date ("3 March 2027", "March
3, 2027", "2027-03-03", "March 2027") or a quoted span ("..." or “...”, up to 15 words).
Number words followed by a unit count too ("sixty (60) days", "ninety days").

Each value is looked up in every source given to the model, parsed the same way:

- a number is held by a source stating the same number in any form (`1,200` = `1200.0`);
- an amount by the same number as an amount or a bare number (tables drop the sign);
- a percentage only by a percentage, a duration only by the same number of the same unit
  ("4 hours" is not held by "4 days"; "business" and "calendar" days count as days);
- a date by a date with the same year, month and (when the answer gives one) day; a year
  alone ("in 2027") by a date of that year too;
- a quoted span by a source holding its words (SQuAD normalization).

The verdict (`Grounding`) lists every value with the sources that hold it and whether one
of them is cited; `apply_grounding_action` keeps and flags the answer (default), or replaces
it by the best supporting quote from the sources, or by "I don't know.".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from adaptrag.rag.answering.citations import CITATION_PATTERN, extract_citations
from adaptrag.rag.answering.normalize import normalize_answer
from adaptrag.rag.prompts import NO_ANSWER
from adaptrag.rag.types import Answer, CheckedValue, Citation, Grounding, Source

ACTIONS = ("flag", "quote", "refuse")

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<{}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<{}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<{}>(?:1[89]|2\d)\d\d)"
_DATE = re.compile(
    "|".join(
        [
            rf"\b{_DAY.format('d1')}\s+(?:of\s+)?{_MONTH.format('m1')},?\s+{_YEAR.format('y1')}\b",
            rf"\b{_MONTH.format('m2')}\s+{_DAY.format('d2')},?\s+{_YEAR.format('y2')}\b",
            rf"\b{_YEAR.format('y3')}-(?P<m3>[01]\d)-(?P<d3>[0-3]\d)\b",
            rf"\b{_MONTH.format('m4')},?\s+{_YEAR.format('y4')}\b",
        ]
    ),
    re.IGNORECASE,
)

_TIME_UNITS = ("day", "week", "month", "year", "hour", "minute")
_UNIT = (
    r"(?P<unit>%|percent\b|per\s*cent\b|percentage\s+points?\b"
    r"|(?:business\s+|calendar\s+|working\s+)?(?:days?|weeks?|months?|years?|hours?|minutes?)\b"
    r"|dollars\b|euros\b|pounds\b|usd\b|eur\b|gbp\b|chf\b)"
)
_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mm": 1e6, "m": 1e6, "bn": 1e9}
_SCALE |= {"billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"(?P<cur>[$€£¥]|\b(?:us\$|usd|eur|gbp|chf)\s?)?"
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\d)"
    r"(?:\s(?P<scale>thousand|million|billion|trillion)\b|(?P<short>bn|mm|k|m)\b)?"
    rf"(?:\s?\)?\s?{_UNIT})?",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"“]([^\"“”\n]{1,200})[\"”]")

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
]
_ONES += ["fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORD_VALUE = {w: n for n, w in enumerate(_ONES)} | {w: 10 * n for n, w in enumerate(_TENS) if n}
_NUMBER_WORDS = re.compile(
    r"\b(?P<tens>" + "|".join(_TENS[2:]) + r")(?:[\s-](?P<unit1>" + "|".join(_ONES[1:10]) + r"))?"
    r"\b|\b(?P<ones>" + "|".join(_ONES) + r")\b",
    re.IGNORECASE,
)
_FOLLOWED_BY_UNIT = re.compile(r"\s*(?:\(\s*\d+\s*\)\s*)?" + _UNIT, re.IGNORECASE)


@dataclass(frozen=True)
class _Value:
    """A value parsed from text: what it is, and its key for comparison."""

    text: str
    kind: str
    number: float | None = None  # numbers, amounts, percents, durations
    unit: str | None = None  # durations: day, week, ...
    date: tuple[int, int, int | None] | None = None
    words: str | None = None  # quotes: normalized


def _digits_for_words(text: str) -> str:
    """Number words followed by a unit as digits ("ninety days" -> "90 days")."""

    def replace(match: re.Match[str]) -> str:
        follows = _FOLLOWED_BY_UNIT.match(text, match.end())
        if not follows:
            return match[0]
        if "(" in follows[0]:
            return ""  # "sixty (60) days": the digits that follow say it
        if match["ones"]:
            return str(_WORD_VALUE[match["ones"].lower()])
        value = _WORD_VALUE[match["tens"].lower()]
        return str(value + (_WORD_VALUE[match["unit1"].lower()] if match["unit1"] else 0))

    return _NUMBER_WORDS.sub(replace, text)


def _dates(text: str) -> Iterator[tuple[re.Match[str], tuple[int, int, int | None]]]:
    for match in _DATE.finditer(text):
        groups = match.groupdict()
        for n in "1234":
            if groups.get(f"y{n}"):
                month = groups[f"m{n}"]
                month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
                day = groups.get(f"d{n}")
                yield match, (int(groups[f"y{n}"]), month_number, int(day) if day else None)
                break


def _number_value(match: re.Match[str]) -> _Value:
    number = float(match["num"].replace(",", ""))
    scale = (match["scale"] or match["short"] or "").lower()
    unit = (match["unit"] or "").lower()
    number *= _SCALE.get(scale, 1.0)  # "$5m" and "5 million"; "5 m" (apart) is a length
    kind, time_unit = "number", None
    if unit in ("%",) or "cent" in unit or "percentage" in unit:
        kind = "percent"
    elif unit and any(unit.rstrip("s").endswith(u) for u in _TIME_UNITS):
        kind, time_unit = "duration", next(u for u in _TIME_UNITS if u in unit)
    elif match["cur"] or unit in ("dollars", "euros", "pounds", "usd", "eur", "gbp", "chf"):
        kind = "amount"
    shown = " ".join(match[0].replace(")", " ").split())  # "60) days" -> "60 days"
    return _Value(shown, kind, number=number, unit=time_unit)


def values_in(text: str, *, quotes: bool = True) -> list[_Value]:
    """The values `text` states, in order (citation markers removed first)."""
    text = CITATION_PATTERN.sub(" ", text)
    found: list[_Value] = []
    taken: list[tuple[int, int]] = []
    if quotes:  # as written: a quote is compared word for word
        for match in _QUOTE.finditer(text):
            words = normalize_answer(match[1])
            if words and len(words.split()) <= 15:
                found.append(_Value(match[0], "quote", words=words))
    text = _digits_for_words(text)
    for match, date in _dates(text):
        found.append(_Value(match[0], "date", date=date))
        taken.append(match.span())
    for match in _NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in taken):
            continue
        found.append(_number_value(match))
    return found


class _SourceValues:
    """The values of one source, indexed for lookups."""

    def __init__(self, text: str) -> None:
        self.words = f" {normalize_answer(text)} "
        self.values = values_in(text, quotes=False)
        self.years = {v.date[0] for v in self.values if v.date}

    def holds(self, value: _Value) -> bool:
        return self.written(value) is not None

    def written(self, value: _Value) -> str | None:
        """How the source writes `value` (its own words for it), or None: it does not."""
        if value.kind == "quote":
            return value.words if f" {value.words} " in self.words else None
        if value.kind == "date":
            assert value.date is not None
            same = (v for v in self.values if v.date is not None and _same_date(value.date, v.date))
            return next((v.text for v in same), None)
        if value.kind == "number" and value.number in self.years:
            return next((v.text for v in self.values if v.date and v.date[0] == value.number), "")
        same = (v for v in self.values if v.number is not None and _same_number(value, v))
        return next((v.text for v in same), None)


def _same_date(answer: tuple[int, int, int | None], source: tuple[int, int, int | None]) -> bool:
    return answer[:2] == source[:2] and (answer[2] is None or answer[2] == source[2])


def _same_number(answer: _Value, source: _Value) -> bool:
    assert answer.number is not None and source.number is not None
    if abs(answer.number - source.number) > 1e-9 * max(1.0, abs(answer.number)):
        return False
    if answer.kind == "percent":
        return source.kind == "percent"
    if answer.kind == "duration":
        return source.kind == "duration" and source.unit == answer.unit
    if answer.kind == "amount":
        return source.kind in ("amount", "number")
    return True


def check_values(text: str, sources: Sequence[Source], cited: Sequence[int] = ()) -> Grounding:
    """The verdict on `text`: each value it states with the sources (numbered 1..) that
    hold it; `cited` are the source numbers the answer cites."""
    indexed = [_SourceValues(s.text) for s in sources]
    checked = []
    for value in values_in(text):
        written = [(n, source.written(value)) for n, source in enumerate(indexed, 1)]
        holding = [(n, words) for n, words in written if words is not None]
        numbers = [n for n, _ in holding]
        # The page of each holding source where the value stands (a merged source spans
        # several): where a value is cited, the verdict names its page.
        pages = [sources[n - 1].page_of(words or "") for n, words in holding]
        checked.append(
            CheckedValue(value.text, value.kind, numbers, any(n in cited for n in numbers), pages)
        )
    return Grounding(checked)


def grounded(answer: Answer, question: str, action: str = "flag") -> Answer:
    """`answer` with its verdict, and `action` ("flag", "quote", "refuse") applied to an
    answer stating a value no source holds."""
    verdict = _verdict(answer.text, answer.sources, answer.citations)
    if verdict.supported is not False or action == "flag":
        return replace(answer, grounding=verdict)
    text = (best_quote(question, answer.sources) if action == "quote" else None) or NO_ANSWER
    citations = extract_citations(text, answer.sources)
    verdict = replace(
        _verdict(text, answer.sources, citations),
        action="quoted" if text != NO_ANSWER else "refused",
        model_text=answer.text,
    )
    return replace(answer, text=text, citations=citations, grounding=verdict)


def _verdict(text: str, sources: Sequence[Source], citations: Sequence[Citation]) -> Grounding:
    return check_values(text, sources, [c.marker for c in citations if c.valid])


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"\w+")
_STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "what",
        "which",
        "when",
        "how",
        "who",
    ]
)


def best_quote(question: str, sources: Sequence[Source]) -> str | None:
    """The source sentence that best answers `question` and states a value, quoted with
    its citation (`"..." [n]`); None when no sentence shares a word with the question."""
    asked = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
    best: tuple[float, int, str] | None = None
    for n, source in enumerate(sources, 1):
        for sentence in _SENTENCE.split(source.text):
            sentence = " ".join(sentence.split())
            words = set(_WORD.findall(sentence.lower()))
            shared = len(asked & words)
            if not shared or not values_in(sentence, quotes=False) or len(sentence) > 400:
                continue
            score = shared / (1 + 0.01 * len(words))
            if best is None or score > best[0]:
                best = (score, n, sentence)
    return None if best is None else f'"{best[2]}" [{best[1]}]'
