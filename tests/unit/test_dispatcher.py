"""tools/_dispatcher.py: each tool call becomes a result and a tool_executing/completed pair."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import pytest
from tests.helpers import assert_gapless, history

from goldpath.context import UserExecutionContext
from goldpath.errors import ToolCallLimitError
from goldpath.events import Emitter, Event, ToolCompleted, ToolExecuting
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, Tool, ToolDispatcher, ToolResult, tool

pytestmark = pytest.mark.unit


@tool
async def explode(reason: str = "kaboom") -> str:
    """Always fails."""
    raise RuntimeError(reason)


@tool(timeout=0.01)
async def hang() -> str:
    """Never answers within its own 10 ms timeout."""
    await asyncio.Event().wait()
    return "never"


@tool
async def echo(context: UserExecutionContext, value: int) -> dict[str, object]:
    """Echo the value and who asked."""
    return {"value": value, "user": context.user_id}


class Run:
    """A real dispatcher over a real stream, for one run of user u1."""

    def __init__(self, tools: Iterable[Tool], *, max_calls: int = 32, timeout: float = 5.0):
        self.hub = InMemoryStreamHub()
        self.context = UserExecutionContext.create("u1", "t1")
        self.stream = self.hub.for_user("u1")
        emitter = Emitter(self.context, self.stream, "supervisor")
        self.dispatcher = ToolDispatcher(
            self.context,
            {t.name: t for t in tools},
            emitter,
            max_calls=max_calls,
            timeout=timeout,
        )

    async def events(self) -> list[Event]:
        return await history(self.stream)


def _pair(events: list[Event], call_id: str) -> tuple[ToolExecuting, ToolCompleted]:
    assert [e.type for e in events] == ["tool_executing", "tool_completed"]
    assert_gapless(events)
    executing, completed = events[0].data, events[1].data
    assert isinstance(executing, ToolExecuting)
    assert isinstance(completed, ToolCompleted)
    assert executing.call_id == completed.call_id == call_id
    assert executing.tool == completed.tool
    assert completed.duration_ms >= 0
    return executing, completed


async def test_success_pair_with_result() -> None:
    run = Run([*BUILTIN_TOOLS, echo])
    result = await run.dispatcher.call("c1", "calculator", {"expression": "17*23"})
    assert result == ToolResult(ok=True, value=391)
    assert result.for_model() == "391"
    executing, completed = _pair(await run.events(), "c1")
    assert executing.args == {"expression": "17*23"}
    assert (completed.ok, completed.result, completed.error) == (True, 391, None)
    assert run.dispatcher.calls_made == 1


async def test_tool_sees_the_run_context() -> None:
    run = Run([echo])
    result = await run.dispatcher.call("c1", "echo", {"value": 3})
    assert result.value == {"value": 3, "user": "u1"}
    assert json.loads(result.for_model()) == {"value": 3, "user": "u1"}


async def test_unknown_tool() -> None:
    run = Run(BUILTIN_TOOLS)
    result = await run.dispatcher.call("c1", "rm_rf", {})
    assert not result.ok
    assert result.error == "there is no tool 'rm_rf'; tools: calculator, clock"
    assert result.for_model() == f"error: {result.error}"
    _, completed = _pair(await run.events(), "c1")
    assert (completed.ok, completed.error, completed.tool) == (False, result.error, "rm_rf")


async def test_unknown_tool_when_there_are_none() -> None:
    result = await Run([]).dispatcher.call("c1", "calculator", {})
    assert result.error == "there is no tool 'calculator'; tools: none"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs the argument 'expression'"),
        ({"expression": 17}, "'expression' must be a string"),
        ({"expression": "1", "x": 1}, "has no argument 'x'"),
        ("17*23", "must be a JSON object, not str"),
    ],
)
async def test_bad_arguments(arguments: object, message: str) -> None:
    run = Run(BUILTIN_TOOLS)
    result = await run.dispatcher.call("c1", "calculator", arguments)
    assert not result.ok
    assert result.error is not None
    assert message in result.error
    executing, completed = _pair(await run.events(), "c1")
    assert not completed.ok
    assert completed.error == result.error
    if not isinstance(arguments, dict):
        assert executing.args == {"arguments": arguments}


async def test_exception_becomes_a_readable_result() -> None:
    run = Run([explode])
    result = await run.dispatcher.call("c1", "explode", {"reason": "disk full"})
    assert result == ToolResult(ok=False, error="RuntimeError: disk full")
    _, completed = _pair(await run.events(), "c1")
    assert (completed.ok, completed.error) == (False, "RuntimeError: disk full")


async def test_tool_value_error_is_explained() -> None:
    run = Run(BUILTIN_TOOLS)
    result = await run.dispatcher.call("c1", "calculator", {"expression": "1/0"})
    assert result.error == "ValueError: division by zero"


async def test_timeout_of_the_tool() -> None:
    run = Run([hang])
    result = await run.dispatcher.call("c1", "hang", {})
    assert result == ToolResult(ok=False, error="'hang' took longer than 0.01 s")
    _, completed = _pair(await run.events(), "c1")
    assert not completed.ok


async def test_timeout_of_the_run_applies_to_tools_without_their_own() -> None:
    @tool
    async def wait() -> str:
        """Waits forever."""
        await asyncio.Event().wait()
        return "never"

    run = Run([wait], timeout=0.01)
    result = await run.dispatcher.call("c1", "wait", {})
    assert result.error == "'wait' took longer than 0.01 s"


async def test_tool_call_limit() -> None:
    run = Run(BUILTIN_TOOLS, max_calls=2)
    for call_id in ("c1", "c2"):
        assert (await run.dispatcher.call(call_id, "calculator", {"expression": "1+1"})).ok
    with pytest.raises(ToolCallLimitError) as caught:
        await run.dispatcher.call("c3", "calculator", {"expression": "1+1"})
    assert caught.value.limit == 2
    events = await run.events()
    assert len(events) == 6
    completed = events[5].data
    assert isinstance(completed, ToolCompleted)
    assert [e.type for e in events[4:]] == ["tool_executing", "tool_completed"]
    assert completed.call_id == "c3"
    assert not completed.ok
    assert completed.error == str(ToolCallLimitError(2))
    assert run.dispatcher.calls_made == 3


async def test_cancellation_during_a_tool_still_completes_the_pair() -> None:
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Waits until cancelled."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    run = Run([slow])
    task = asyncio.create_task(run.dispatcher.call("c1", "slow", {}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, completed = _pair(await run.events(), "c1")
    assert not completed.ok
    assert completed.error == "the run was cancelled while the tool ran"


def test_specs_describe_every_tool() -> None:
    specs = Run(BUILTIN_TOOLS).dispatcher.specs()
    assert [s["name"] for s in specs] == ["calculator", "clock"]
    assert specs[0] == BUILTIN_TOOLS[0].spec()


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        (ToolResult(ok=True, value="plain"), "plain"),
        (ToolResult(ok=True, value=[1, "é"]), '[1, "é"]'),
        (ToolResult(ok=True, value=None), "null"),
        (ToolResult(ok=False, error="nope"), "error: nope"),
    ],
)
def test_for_model(result: ToolResult, shown: str) -> None:
    assert result.for_model() == shown
