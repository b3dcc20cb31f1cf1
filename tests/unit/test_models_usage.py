"""models/: how models are named, and the per-run view that adds up their token usage."""

from __future__ import annotations

import asyncio

import pytest

from goldpath.errors import ConfigurationError
from goldpath.models import (
    Message,
    MeteredModel,
    ScriptedModel,
    TextDelta,
    Thought,
    ToolCall,
    Usage,
    split_model_name,
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


async def test_metered_adds_up_usage_and_passes_everything_else_on() -> None:
    call = ToolCall("c1", "calculator", {"expression": "1+1"})
    inner = ScriptedModel(
        [
            [Thought("hm"), call, Usage(100, 7)],
            [TextDelta("2"), Usage(130, 2), Usage(1, 1)],
        ]
    )
    assert MeteredModel(inner).usage is None  # nothing reported yet
    metered = MeteredModel(inner)
    assert metered.name == "scripted"
    first = [output async for output in metered.stream(QUESTION, [])]
    assert first == [Thought("hm"), call]
    assert metered.usage == Usage(100, 7)
    conversation = (*QUESTION, Message("assistant", tool_calls=(call,)), Message("tool", "2"))
    second = [output async for output in metered.stream(conversation, [])]
    assert second == [TextDelta("2")]
    assert metered.usage == Usage(231, 10)


async def test_metered_usage_stays_none_when_the_model_reports_none() -> None:
    metered = MeteredModel(ScriptedModel([[TextDelta("a"), TextDelta("b")]]))
    assert [o async for o in metered.stream(QUESTION, [])] == [TextDelta("a"), TextDelta("b")]
    assert metered.usage is None


async def test_each_run_counts_its_own_usage() -> None:
    shared = ScriptedModel([[TextDelta("x"), Usage(10, 1)]])
    runs = [MeteredModel(shared) for _ in range(3)]

    async def drain(metered: MeteredModel) -> None:
        async for _ in metered.stream(QUESTION, []):
            pass

    await asyncio.gather(*(drain(run) for run in runs[:2]))
    assert [run.usage for run in runs] == [Usage(10, 1), Usage(10, 1), None]
