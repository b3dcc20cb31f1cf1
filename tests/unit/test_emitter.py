"""events/_emitter.py: the per-run emitter stamps its run and can reach only its own user."""

from __future__ import annotations

import inspect
import json
import re

import pytest
from tests.helpers import history

from goldpath.context import UserExecutionContext
from goldpath.events import AgentThinking, Emitter, MessageDelta
from goldpath.stream import InMemoryStreamHub

pytestmark = pytest.mark.unit


async def test_stamps_run_thread_agent_and_time_from_its_context() -> None:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    emitter = Emitter(ctx, hub.for_user("u1"), "supervisor")
    event = await emitter.emit(MessageDelta("hi"))
    assert (event.run_id, event.thread_id, event.agent) == (ctx.run_id, "t1", "supervisor")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event.ts)
    assert event.offset == 1
    assert json.loads(event.json)["ts"] == event.ts
    assert await history(hub.for_user("u1")) == [event]
    assert emitter.context is ctx
    assert emitter.agent == "supervisor"
    public = {name for name in dir(emitter) if not name.startswith("_")}
    assert public == {"agent", "context", "emit", "for_agent"}  # no side door to the stream


async def test_for_agent_speaks_for_another_agent_in_the_same_run() -> None:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    emitter = Emitter(ctx, hub.for_user("u1"), "supervisor")
    sub_emitter = emitter.for_agent("researcher")
    assert sub_emitter is not emitter
    assert sub_emitter.agent == "researcher"
    assert sub_emitter.context is ctx
    first = await emitter.emit(AgentThinking("a"))
    second = await sub_emitter.emit(AgentThinking("b"))
    assert (first.agent, second.agent) == ("supervisor", "researcher")
    assert (first.run_id, second.run_id) == (ctx.run_id, ctx.run_id)
    assert (first.offset, second.offset) == (1, 2)
    assert emitter.agent == "supervisor"


async def test_events_go_to_the_bound_user_only() -> None:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    await Emitter(ctx, hub.for_user("u1"), "a").emit(MessageDelta("x"))
    assert len(await history(hub.for_user("u1"))) == 1
    assert await history(hub.for_user("u2")) == []


def test_no_public_method_can_address_another_user() -> None:
    forbidden = re.compile(r"user|context|ctx|sink|stream|hub", re.IGNORECASE)
    public = [
        name
        for name, member in inspect.getmembers(Emitter)
        if not name.startswith("_") and callable(member)
    ]
    assert set(public) == {"emit", "for_agent"}
    for name in public:
        parameters = list(inspect.signature(getattr(Emitter, name)).parameters)
        assert parameters[0] == "self"
        assert not [p for p in parameters[1:] if forbidden.search(p)], (name, parameters)


def test_emitter_has_no_per_instance_dict() -> None:
    ctx = UserExecutionContext.create("u1", "t1")
    emitter = Emitter(ctx, InMemoryStreamHub().for_user("u1"), "a")
    assert not hasattr(emitter, "__dict__")
    with pytest.raises(AttributeError):
        emitter.user_id = "u2"  # type: ignore[attr-defined]
