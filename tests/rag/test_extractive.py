"""Extractive decoding: the local model's answer is a span copied from a source it cites,
or a label for a yes/no question; with the real model and tokenizer."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from adaptrag.rag.answering.grounding import check_values
from adaptrag.rag.generators import make_generator
from adaptrag.rag.generators.extractive import (
    ExtractiveProcessor,
    TokenClasses,
    finish_text,
    is_polar,
    span_boundaries,
)
from adaptrag.rag.generators.local import Decoding, LocalGenerator
from adaptrag.rag.prompts import NO_ANSWER, Prompt, build_prompt
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

SOURCES = [
    Source(
        "nda.txt",
        "c1",
        "This agreement is governed by the laws of Zurich. Signatures follow on the last page.",
        1.0,
        {"title": "NDA"},
    ),
    Source(
        "lease.md",
        "c2",
        "The tenant pays a deposit of EUR 12,000. The notice period is 60 days.",
        0.9,
        {"title": "Lease"},
    ),
]
QUESTIONS = [
    "Which law governs the NDA?",
    "What is the notice period of the lease?",
    "How much is the deposit?",
    "How many hours does the landlord have to repair the heating?",  # in no source
]
CITATION = re.compile(r"\s*\[(\d+)\]$")


def extractive(generator: LocalGenerator) -> LocalGenerator:
    """The same loaded model, decoding extractively."""
    tuned = copy.copy(generator)
    tuned.decoding = Decoding(stop_at_paragraph=True, extractive=True)
    return tuned


def squash(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def answers(local_generator: LocalGenerator) -> list[str]:
    prompts = [build_prompt(q, SOURCES) for q in QUESTIONS]
    return [g.text for g in extractive(local_generator).generate_many(prompts, max_new_tokens=40)]


def test_the_setting_chooses_extractive_decoding() -> None:
    assert Settings().local_model.decoding == "extractive"
    built = make_generator("local", Settings(decoding="free"))
    assert isinstance(built, LocalGenerator) and not built.decoding.extractive
    built = make_generator("local", Settings())
    assert isinstance(built, LocalGenerator) and built.decoding.extractive


def test_every_answer_is_a_span_of_the_source_it_cites(answers: list[str]) -> None:
    for answer in answers:
        if answer == NO_ANSWER:
            continue
        cited = CITATION.search(answer)
        assert cited, answer
        span = answer[: cited.start()].strip()
        source = SOURCES[int(cited.group(1)) - 1]
        assert span and squash(span) in squash(source.text), (answer, source.text)


def test_no_answer_states_a_value_that_no_source_holds(answers: list[str]) -> None:
    for answer in answers:
        assert check_values(answer, SOURCES).supported is not False, answer
    assert any("Zurich" in a for a in answers)  # the model still picks the right span


def test_batched_one_by_one_and_streamed_answers_are_the_same(
    local_generator: LocalGenerator, answers: list[str]
) -> None:
    model = extractive(local_generator)
    prompt = build_prompt(QUESTIONS[0], SOURCES)
    alone = model.generate(prompt, max_new_tokens=40).text
    parts = list(model.stream(prompt, max_new_tokens=40))
    final = parts[-1]
    assert alone == answers[0] == getattr(final, "text", None)
    assert "".join(p for p in parts[:-1] if isinstance(p, str)).strip() == alone


def test_prompt_lookup_gives_the_same_answers_in_fewer_passes(
    local_generator: LocalGenerator, answers: list[str]
) -> None:
    """Drafts copied from the prompt, checked in one pass each: the answers of plain greedy
    decoding, token for token, one at a time, batched and streamed; free answers (a chat
    turn without sources) are not drafted."""
    plain, lookup = extractive(local_generator), extractive(local_generator)
    lookup.decoding = Decoding(stop_at_paragraph=True, extractive=True, prompt_lookup=10)
    assert lookup._rows_per_batch() == 1 and plain._rows_per_batch() == plain.batch_size
    passes = []
    hook = local_generator.hf_model.register_forward_hook(lambda *_: passes.append(1))
    try:
        prompts = [build_prompt(q, SOURCES) for q in QUESTIONS]
        drafted = lookup.generate_many(prompts, max_new_tokens=40)
    finally:
        hook.remove()
    assert [g.text for g in drafted] == answers
    written = sum(g.usage.output_tokens for g in drafted)
    assert len(passes) < written, (len(passes), written)  # some drafts were accepted whole
    streamed = list(lookup.stream(prompts[0], max_new_tokens=40))
    assert getattr(streamed[-1], "text", None) == answers[0]
    chat = Prompt(system="You are helpful.", user="Say hello to Ada.", sources=())
    alone = extractive(local_generator).generate(chat, max_new_tokens=12)
    assert lookup.generate(chat, max_new_tokens=12).text == alone.text  # free: not drafted


def test_a_yes_no_question_is_answered_by_a_label(local_generator: LocalGenerator) -> None:
    assert is_polar("Does the lease require a deposit?") and not is_polar("Which law?")
    prompt = build_prompt("Does the tenant pay a deposit?", SOURCES)
    text = extractive(local_generator).generate(prompt, max_new_tokens=20).text
    first = CITATION.sub("", text).strip().rstrip(".").lower()
    assert first in {"yes", "no", "maybe"} or text == NO_ANSWER, text


def test_prompts_without_sources_decode_freely(local_generator: LocalGenerator) -> None:
    chat = Prompt(system="You are helpful.", user="Say hello to Ada.", sources=())
    free = local_generator.generate(chat, max_new_tokens=12).text
    assert extractive(local_generator).generate(chat, max_new_tokens=12).text == free


def test_a_token_outside_the_sources_is_never_chosen(local_generator: LocalGenerator) -> None:
    tokenizer = local_generator.tokenizer
    prompt = build_prompt("Which law governs?", SOURCES[:1])
    processor = ExtractiveProcessor(
        tokenizer,
        [prompt],
        width=0,
        eos={tokenizer.eos_token_id},
        classes=TokenClasses.of(tokenizer),
    )
    scores = torch.zeros(1, len(tokenizer))
    outsider = tokenizer(" Geneva", add_special_tokens=False).input_ids[0]
    scores[0, outsider] = 100.0
    inside = tokenizer(" Zurich", add_special_tokens=False).input_ids[0]
    scores[0, inside] = 1.0
    chosen = int(processor(torch.zeros(1, 0, dtype=torch.long), scores).argmax())  # type: ignore[arg-type]
    assert chosen != outsider
    # After "Zurich", the span may only end or go on as the source does (".").
    then = processor(torch.tensor([[inside]]), torch.zeros(1, len(tokenizer)))  # type: ignore[arg-type]
    allowed = set(torch.nonzero(then[0] == 0).flatten().tolist())
    period = tokenizer(".", add_special_tokens=False).input_ids[0]
    assert period in allowed and tokenizer.eos_token_id in allowed
    assert outsider not in allowed
    period_then = tokenizer(".", add_special_tokens=False).input_ids
    assert processor.citation(0, [inside, *period_then]) == 1  # state before the last token
    index = processor.indexes[0]
    assert index is not None
    refusal = index.ends[index.copies]  # "I don't know." ends only whole
    assert refusal == [False] * (len(refusal) - 1) + [True]


def test_a_rejected_draft_is_forgotten(local_generator: LocalGenerator) -> None:
    """Prompt lookup decoding shows the processor draft tokens it may then reject: the mask
    after the answer as accepted is the mask a processor that never saw the draft gives."""
    tokenizer = local_generator.tokenizer
    prompt = build_prompt("Which law governs?", SOURCES[:1])

    def fresh() -> ExtractiveProcessor:
        return ExtractiveProcessor(
            tokenizer,
            [prompt],
            width=0,
            eos={tokenizer.eos_token_id},
            classes=TokenClasses.of(tokenizer),
        )

    def mask(processor: ExtractiveProcessor, written: list[int]) -> torch.Tensor:
        ids = torch.tensor([written], dtype=torch.long).reshape(1, len(written))
        return processor(ids, torch.zeros(1, len(tokenizer)))  # type: ignore[arg-type]

    draft = tokenizer(" Zurich law applies", add_special_tokens=False).input_ids
    accepted = tokenizer(" Zurich.", add_special_tokens=False).input_ids
    assert draft[0] == accepted[0] and draft[1] != accepted[1]
    processor = fresh()
    for n in range(len(draft) + 1):  # the draft checked position by position
        mask(processor, draft[:n])
    after = mask(processor, accepted)  # shorter than the draft, and it differs at token 2
    assert torch.equal(after, mask(fresh(), accepted))
    assert not torch.equal(after, mask(fresh(), draft[:2]))


def test_the_shown_text_carries_one_whole_citation() -> None:
    assert finish_text("the laws of Zurich.", 1) == "the laws of Zurich. [1]"
    assert finish_text("Zurich [2]", 1) == "Zurich [2]"
    assert finish_text("Zurich [", 1) == "Zurich [1]"
    assert finish_text("Zurich [1", 1) == "Zurich [1]"  # cut off by the token limit
    assert finish_text("Yes", None) == "Yes"


def test_a_span_never_ends_inside_a_word_or_a_value(local_generator: LocalGenerator) -> None:
    tokenizer = local_generator.tokenizer
    text = "Revenue rose 12.5% to EUR 40.2 million; notice is six (6) months."
    pieces = [tokenizer.decode([t]) for t in tokenizer(text, add_special_tokens=False).input_ids]
    begins, ends = span_boundaries(pieces)
    ending = {"".join(pieces[:p]).strip() for p, ok in enumerate(ends) if ok}
    for cut in ("Revenue rose 12", "Revenue rose 12.5", "Revenue rose 12.5% to EUR 40.2"):
        assert cut not in ending  # a number split, or cut from its % or scale
    assert "Revenue rose 12.5% to EUR 40.2 million" in ending
    assert not any(e.endswith(("six", "six (6", "six (6)")) for e in ending)
    assert any(e.endswith("six (6) months") for e in ending)
    assert not any(e.endswith("Rev") for e in ending)  # inside a word
    starting = {"".join(pieces[p:]).strip() for p, ok in enumerate(begins) if ok}
    assert "2.5% to EUR 40.2 million; notice is six (6) months." not in starting


def test_a_span_keeps_a_value_whole_and_does_not_end_on_a_preposition(
    local_generator: LocalGenerator,
) -> None:
    def cuts(text: str) -> tuple[set[str], set[str]]:
        ids = local_generator.tokenizer(text, add_special_tokens=False).input_ids
        pieces = [local_generator.tokenizer.decode([t]) for t in ids]
        begins, ends = span_boundaries(pieces)
        ending = {"".join(pieces[:p]).strip() for p, ok in enumerate(ends) if ok}
        starting = {"".join(pieces[p:]).strip() for p, ok in enumerate(begins) if ok}
        return starting, ending

    starting, ending = cuts("The margin was 21.6%. A rating of at least BB+ applies.")
    assert "The margin was 21.6" not in ending  # "%." is one token: the unit stays
    assert not any(e.endswith(("BB", "of", "least", "at")) for e in ending)
    assert "BB+ applies." in starting and "+ applies." not in starting
    starting, ending = cuts("The return was -2.4% over a tenor of eighteen (18) months.")
    assert "-2.4% over a tenor of eighteen (18) months." in starting  # the sign starts it
    assert "2.4% over a tenor of eighteen (18) months." not in starting
    assert "18) months." not in starting
    assert not any(e.endswith("(") for e in ending)
    _, ending = cuts("The agreement is governed by the laws of Zurich.")
    assert "The agreement is governed by the laws of" not in ending
    assert "The agreement is governed by the laws of Zurich" in ending
