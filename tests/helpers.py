"""Plain helpers for the core runtime's tests: contexts, factories, and reading a user's events.

Nothing here fakes a part of goldpath: the factory, the hub, the dispatcher are real; the
only stand-in is the `ScriptedModel`, at the vendor boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from goldpath.agents import AgentRegistry
from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits
from goldpath.events import Event, ToolCompleted, ToolExecuting
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import ChatModel, ScriptedModel, ScriptStep
from goldpath.stream import (
    InMemoryStreamHub,
    InMemoryUserStream,
    Replay,
    Subscription,
    UserStream,
)
from goldpath.tools import BUILTIN_TOOLS, Tool

__all__ = [
    "assert_gapless",
    "assert_run_shape",
    "drain",
    "frames",
    "history",
    "make_context",
    "make_factory",
    "scripted",
    "types_of",
    "user_stream",
]


def make_context(user_id: str = "user_1", thread_id: str = "thread_1") -> UserExecutionContext:
    """A context for a new run of ``user_id`` with fresh run and request ids."""
    return UserExecutionContext.create(user_id, thread_id)


def scripted(*turns: Sequence[ScriptStep]) -> ScriptedModel:
    return ScriptedModel(turns)


def make_factory(
    model: ChatModel | None = None,
    *,
    hub: InMemoryStreamHub | None = None,
    tools: Iterable[Tool] = BUILTIN_TOOLS,
    agents: AgentRegistry | None = None,
    limits: RunLimits | None = None,
) -> ExecutionEngineFactory:
    """A real factory over a real in-memory hub (a fresh one unless given)."""
    return ExecutionEngineFactory(
        streams=hub if hub is not None else InMemoryStreamHub(),
        model=model,
        agents=agents,
        tools=tools,
        limits=limits,
    )


def user_stream(factory: ExecutionEngineFactory, user_id: str) -> InMemoryUserStream:
    """The in-memory stream the factory's engines write ``user_id``'s events to."""
    stream = factory._streams.for_user(user_id)  # the hub the factory was given
    assert isinstance(stream, InMemoryUserStream)
    return stream


async def history(stream: UserStream) -> list[Event]:
    """Every event the stream still holds, oldest first (read through `read_after`)."""
    epoch, _ = await stream.position()
    answer = await stream.read_after(epoch, 0)
    assert isinstance(answer, Replay), f"expected a replay, got {answer!r}"
    return list(answer.events)


async def drain(subscription: Subscription) -> list[Event]:
    """The events already delivered to ``subscription``, without waiting for more."""
    events: list[Event] = []
    while subscription.pending():
        events.append(await subscription.get())
    return events


def types_of(events: Iterable[Event]) -> list[str]:
    return [event.type for event in events]


def frames(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The parsed wire frames of ``events``."""
    return [json.loads(event.json) for event in events]


def assert_gapless(events: Sequence[Event], first: int = 1) -> None:
    """Offsets run first, first+1, ... with no gap and no repeat."""
    assert [e.offset for e in events] == list(range(first, first + len(events)))


def assert_run_shape(events: Sequence[Event]) -> None:
    """The guarantees of PROTOCOL.md for the events of ONE run.

    One ``agent_started`` first, one ``agent_completed`` last, and each ``tool_executing``
    followed by exactly one ``tool_completed`` with the same ``call_id``.
    """
    kinds = types_of(events)
    assert kinds, "the run emitted nothing"
    assert kinds[0] == "agent_started", kinds
    assert kinds[-1] == "agent_completed", kinds
    assert kinds.count("agent_started") == 1, kinds
    assert kinds.count("agent_completed") == 1, kinds
    assert len({e.run_id for e in events}) == 1
    open_calls: dict[str, int] = {}
    completed: list[str] = []
    for event in events:
        data = event.data
        if isinstance(data, ToolExecuting):
            call_id = data.call_id
            assert call_id not in open_calls, f"{call_id} started twice"
            open_calls[call_id] = 1
        elif isinstance(data, ToolCompleted):
            call_id = data.call_id
            assert open_calls.pop(call_id, None) == 1, f"{call_id} completed without start"
            completed.append(call_id)
    assert not open_calls, f"tool calls never completed: {sorted(open_calls)}"
    assert len(completed) == len(set(completed))
