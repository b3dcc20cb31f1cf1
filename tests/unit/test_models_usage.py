"""models/: how models are named, and how a run counts the tokens its model calls report."""

from __future__ import annotations

import asyncio

import pytest

from goldpath.errors import ConfigurationError
from goldpath.models import (
    Message,
    ScriptedModel,
    TextDelta,
    Thought,
    ToolCall,
    Usage,
    report_usage,
    split_model_name,
    usage_mark,
    usage_since,
)

pytestmark = pytest.mark.unit

QUESTION = (Message("user", "hi"),)


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("offline", ("offline", None)),
        ("openai", ("openai", None)),
        ("openai:gpt-4o", ("openai", "gpt-4o")),
        ("openai:qwen2.5:7b", ("openai", "qwen2.5:7b")),
    ],
)
def test_model_names(name: str, split: tuple[str, str | None]) -> None:
    assert split_model_name(name) == split


@pytest.mark.parametrize("name", ["", "openai:", "offline:tiny", "gpt-4o", "Offline"])
def test_names_goldpath_does_not_know(name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        split_model_name(name)
    assert str(raised.value) == (
        f"{name!r} is not a model goldpath knows; use offline, openai or openai:<model name>"
    )


async def test_a_run_adds_up_the_usage_its_model_calls_report() -> None:
    call = ToolCall("c1", "calculator", {"expression": "1+1"})
    model = ScriptedModel(
        [
            [Thought("hm"), call, Usage(100, 7)],
            [TextDelta("2"), Usage(130, 2), Usage(1, 1)],
        ]
    )
    counting = usage_mark()
    first = [output async for output in model.stream(QUESTION, [])]
    conversation = (*QUESTION, Message("assistant", tool_calls=(call,)), Message("tool", "2"))
    second = [output async for output in model.stream(conversation, [])]
    assert usage_since(counting) == Usage(231, 10)
    assert first == [Thought("hm"), call]  # usage is never an output
    assert second == [TextDelta("2")]


async def test_no_usage_when_no_call_reports_any() -> None:
    counting = usage_mark()
    assert [o async for o in ScriptedModel([[TextDelta("a")]]).stream(QUESTION, [])] == [
        TextDelta("a")
    ]
    assert usage_since(counting) is None


def test_a_run_inside_a_run_counts_its_own_and_the_outer_counts_both() -> None:
    outer = usage_mark()
    report_usage(5, 1)
    inner = usage_mark()
    report_usage(7, 2)
    assert usage_since(inner) == Usage(7, 2)
    report_usage(1, 1)
    assert usage_since(outer) == Usage(13, 4)
    assert usage_since(usage_mark()) is None


async def test_concurrent_runs_count_apart() -> None:
    model = ScriptedModel([[TextDelta("x"), Usage(10, 1)]])

    async def run(calls: int) -> Usage | None:
        counting = usage_mark()
        for _ in range(calls):
            async for _ in model.stream(QUESTION, []):
                await asyncio.sleep(0)  # interleave the runs
        return usage_since(counting)

    assert list(await asyncio.gather(run(1), run(3), run(0))) == [Usage(10, 1), Usage(30, 3), None]


def test_a_run_counts_only_what_was_reported_after_it_started() -> None:
    report_usage(1, 1)
    counting = usage_mark()
    assert usage_since(counting) is None
    report_usage(2, 3)
    assert usage_since(counting) == Usage(2, 3)
