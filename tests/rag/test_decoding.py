"""Decoding settings of the local model: repetition controls and the stop at the first
complete answer, with the real model and tokenizer."""

from __future__ import annotations

import copy

import torch

from adaptrag.rag.generators import make_generator
from adaptrag.rag.generators.local import Decoding, LocalGenerator, _ParagraphStop
from adaptrag.rag.prompts import Prompt, build_prompt
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import Source

PROMPT = build_prompt(
    "What does the lease say about notice and rent?",
    [Source("lease", "c1", "The tenant gives ninety days notice. Rent is due monthly.", 1.0)],
)
# A prompt that invites a long, repetitive list.
LIST_PROMPT = Prompt(
    system="You are a helpful assistant.",
    user="Write the word 'lease' and then the word 'rent', over and over, fifty times.",
    sources=(),
)


def decoding(generator: LocalGenerator, **options: object) -> LocalGenerator:
    """The same loaded model with other decoding settings."""
    tuned = copy.copy(generator)
    tuned.decoding = Decoding(**options)  # type: ignore[arg-type]
    return tuned


def test_settings_reach_the_generator_and_its_config(local_generator: LocalGenerator) -> None:
    settings = Settings(
        repetition_penalty=1.3,
        no_repeat_ngram_size=3,
        stop_at_paragraph=True,
        prompt_lookup_tokens=6,
    )
    built = make_generator("local", settings)
    assert isinstance(built, LocalGenerator)
    assert built.decoding == Decoding(1.3, 3, True, extractive=True, prompt_lookup=6)
    config = decoding(local_generator, repetition_penalty=1.3)._generation_config(10)
    assert config.repetition_penalty == 1.3 and config.max_new_tokens == 10
    assert config.prompt_lookup_num_tokens is None  # off unless asked
    drafted = decoding(local_generator, prompt_lookup=6, extractive=True)
    assert drafted._generation_config(10, drafted=True).prompt_lookup_num_tokens == 6
    with_sources = build_prompt("Which law?", [Source("d", "c", "Swiss law applies.", 1.0)])
    chat = Prompt(system="You are helpful.", user="Hi", sources=())
    assert drafted._drafts([with_sources])
    assert not drafted._drafts([with_sources, with_sources])  # transformers: one at a time
    assert not drafted._drafts([chat])  # no sources: a free answer
    free = decoding(local_generator, prompt_lookup=6)  # free answers copy too little
    assert not free._drafts([with_sources]) and free._rows_per_batch() == free.batch_size


def test_no_repeat_ngram_writes_no_token_trigram_twice(local_generator: LocalGenerator) -> None:
    plain = local_generator.generate(LIST_PROMPT, max_new_tokens=60)
    tuned = decoding(local_generator, no_repeat_ngram_size=3).generate(
        LIST_PROMPT, max_new_tokens=60
    )

    def trigrams(text: str) -> list[tuple[int, ...]]:
        ids = local_generator.tokenizer(text, add_special_tokens=False).input_ids
        return [tuple(ids[i : i + 3]) for i in range(len(ids) - 2)]

    assert len(set(trigrams(plain.text))) < len(trigrams(plain.text))  # greedy repeats here
    grams = trigrams(tuned.text)
    assert grams and len(set(grams)) == len(grams)


def test_the_paragraph_stop_ends_a_row_at_its_first_blank_line_after_text(
    local_generator: LocalGenerator,
) -> None:
    tokenizer = local_generator.tokenizer
    prompt_ids = tokenizer("Question?", add_special_tokens=False).input_ids
    width = len(prompt_ids)

    def ended(answer: str) -> bool:
        ids = prompt_ids + tokenizer(answer, add_special_tokens=False).input_ids
        stop = _ParagraphStop(tokenizer, width)
        return bool(stop(torch.tensor([ids]), torch.zeros(1))[0])  # type: ignore[arg-type]

    assert ended("Ninety days [1].\n\n")
    # Step by step, as generation calls it: the row ends at the blank line, not later.
    answer_ids = tokenizer("Ninety days [1].\n\nThe answer is", add_special_tokens=False).input_ids
    steps = [ended(tokenizer.decode(answer_ids[:n])) for n in range(1, len(answer_ids) + 1)]
    first = steps.index(True)
    assert tokenizer.decode(answer_ids[: first + 1]).endswith("\n\n")
    assert not ended("Ninety days [1].")
    assert not ended("\n\nNinety")  # a blank line before any text is not an end
    assert not ended("Ninety days.\nRent monthly.")  # one line break is not a paragraph


def test_an_answer_stops_at_its_first_paragraph(local_generator: LocalGenerator) -> None:
    plain = local_generator.generate(PROMPT, max_new_tokens=120)
    stopped = decoding(local_generator, stop_at_paragraph=True)
    short = stopped.generate(PROMPT, max_new_tokens=120)

    assert "\n\n" not in short.text
    assert plain.text.startswith(short.text)  # the same answer, only the first paragraph
    if "\n\n" in plain.text:
        assert short.usage.output_tokens < plain.usage.output_tokens
    streamed = list(stopped.stream(PROMPT, max_new_tokens=120))
    assert streamed[-1].text == short.text  # type: ignore[union-attr]
