"""The LLM judge: its prompt, verdict parsing, and grading through the real SDK and fake API."""

from __future__ import annotations

import json

from helpers.fake_anthropic import FakeAnthropic

from adaptrag.eval.judge import (
    JUDGE_SYSTEM,
    JUDGE_TOOL,
    Judge,
    judge_coverage,
    judge_prompt,
    parse_verdict,
)
from adaptrag.rag.generators.claude import ClaudeGenerator, Prices
from adaptrag.rag.types import Source, Usage


def test_the_prompt_shows_sources_gold_and_answer() -> None:
    prompt = judge_prompt(
        "When is rent due?",
        ["monthly", "each month"],
        "Monthly [1].",
        [Source("a", "c", "Rent is due monthly.", 1.0)],
    )
    assert prompt.system == JUDGE_SYSTEM and prompt.tool == JUDGE_TOOL
    assert '<source id="1" title="a">\nRent is due monthly.\n</source>' in prompt.user
    assert "- monthly\n- each month" in prompt.user
    assert prompt.user.endswith("Answer to grade:\nMonthly [1].")


def test_verdicts_are_parsed_and_unusable_replies_grade_nothing() -> None:
    usage = Usage(input_tokens=10)
    verdict = parse_verdict('Sure. {"correct": true, "faithful": false, "reason": "x"}', usage)
    assert (verdict.correct, verdict.faithful, verdict.reason) == (1.0, 0.0, "x")
    assert verdict.usage == usage
    for reply in ("no json here", '{"correct": "yes", "faithful": true}', '{"correct": true'):
        broken = parse_verdict(reply, usage)
        assert broken.correct is None and broken.faithful is None
        assert broken.reason.startswith("unparseable judge reply")


def test_the_judge_grades_concurrently_through_the_messages_api(
    claude_env: FakeAnthropic,
) -> None:
    def grade(body: dict[str, object]) -> str:
        user = str(body["messages"][0]["content"])  # type: ignore[index]
        correct = user.endswith("Monthly [1].")
        return json.dumps({"correct": correct, "faithful": True, "reason": "compared"})

    claude_env.reply = grade
    source = [Source("a", "c", "Rent is due monthly.", 1.0)]
    prompts = [
        judge_prompt("When is rent due?", ["monthly"], answer, source)
        for answer in ("Monthly [1].", "Weekly.")
    ]
    judge = Judge(ClaudeGenerator(concurrency=2, prices=Prices(1.0, 1.0)))
    verdicts = judge.grade_many(prompts)
    assert [v.correct for v in verdicts] == [1.0, 0.0]
    assert all(v.faithful == 1.0 and v.usage.cost_usd > 0 for v in verdicts)
    sent = claude_env.requests[-1]["body"]
    assert sent["max_tokens"] == 300 and sent["system"][0]["text"] == JUDGE_SYSTEM
    # structured output: the verdict is a forced call of the judge's tool, with its schema
    assert sent["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert sent["tools"][0]["input_schema"]["required"] == ["correct", "faithful", "reason"]


def test_a_tool_call_with_wrong_types_is_unparseable_and_counted(
    claude_env: FakeAnthropic,
) -> None:
    replies = iter(
        [
            json.dumps({"correct": True, "faithful": True, "reason": "same"}),
            json.dumps({"correct": "yes", "faithful": True, "reason": "typed wrong"}),
        ]
    )
    claude_env.reply = lambda body: next(replies)
    source = [Source("a", "c", "Rent is due monthly.", 1.0)]
    prompts = [judge_prompt("When is rent due?", ["monthly"], "Monthly [1].", source)] * 2
    judge = Judge(ClaudeGenerator(concurrency=1, prices=Prices(1.0, 1.0)))

    good, bad = judge.grade_many(prompts)

    assert (good.correct, good.reason) == (1.0, "same")
    assert bad.correct is None and bad.faithful is None
    assert bad.reason.startswith("unparseable judge reply") and bad.usage.cost_usd > 0
    rows = [
        {"metrics": {"judge_correct": v.correct}, "judge": {"reason": v.reason}}
        for v in (good, bad)
    ]
    assert judge_coverage(rows) == {
        "asked": 2,
        "graded": 1,
        "unparseable": 1,
        "failed": 0,
        "coverage": 0.5,
    }
