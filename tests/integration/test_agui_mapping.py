"""Every AG-UI event of many real runs is exactly AG-UI 1.0, and the mapping is deterministic.

Runs are real (engine, dispatcher, user stream) with random scripts from the engine's
property test: thoughts, deltas, tool calls that succeed, fail, hang or do not exist,
model failures, cancellations and timeouts. Each run's goldpath events are mapped and
every AG-UI event is checked against the ``ag-ui-protocol`` package's models.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits, RunOutcome
from goldpath.events import AgentCompleted, Event
from goldpath.factory import ExecutionEngineFactory
from goldpath.server._agui_mapping import AguiEvent, RunMapping
from goldpath.stream import InMemoryStreamHub
from tests.agui import SseEvent, check_run
from tests.helpers import history
from tests.integration.test_engine_properties import (
    MAX_TOOL_CALLS,
    RUN_TIMEOUT,
    TOOLS,
    Plan,
    plans,
)

pytestmark = pytest.mark.integration


def _sse(events: list[AguiEvent]) -> list[SseEvent]:
    return [SseEvent(f"epoch:{e.offset}", json.loads(e.json)) for e in events]


def mapped(
    events: list[Event], thread_id: str = "client-thread", run_id: str = "r1"
) -> list[AguiEvent]:
    mapping = RunMapping(thread_id, run_id)
    out = [agui for event in events for agui in mapping.map(event)]
    assert mapping.finished
    return out


async def _runs(plans: list[Plan]) -> tuple[dict[str, list[Event]], dict[str, Plan], set[str]]:
    """Run every plan at once for one user; cancel those due after k events."""
    hub = InMemoryStreamHub()
    stream = hub.for_user("u1")
    watcher = await stream.subscribe()
    contexts = [UserExecutionContext.create("u1", f"t{n}") for n in range(len(plans))]
    plan_of = {ctx.run_id: plan for ctx, plan in zip(contexts, plans, strict=True)}
    tasks: dict[str, asyncio.Task[RunOutcome]] = {}
    cancelled: set[str] = set()

    async def run(plan: Plan, ctx: UserExecutionContext) -> RunOutcome:
        timeout = RUN_TIMEOUT if plan.interrupt == "timeout" else 30.0
        factory = ExecutionEngineFactory(
            streams=hub,
            model=plan.script(),
            tools=TOOLS,
            limits=RunLimits(max_tool_calls=MAX_TOOL_CALLS, run_timeout=timeout),
        )
        async with factory.user_execution_engine(ctx) as engine:
            return await engine.run("supervisor", "go")

    async def watch() -> None:
        seen: dict[str, int] = defaultdict(int)
        ended = 0
        while ended < len(plans):
            event = await watcher.get()
            seen[event.run_id] += 1
            if isinstance(event.data, AgentCompleted):
                ended += 1
                continue
            plan = plan_of[event.run_id]
            due = plan.interrupt == "cancel" and seen[event.run_id] == plan.cancel_after
            if due and tasks[event.run_id].cancel():
                cancelled.add(event.run_id)

    async with asyncio.timeout(20):
        for ctx, plan in zip(contexts, plans, strict=True):
            tasks[ctx.run_id] = asyncio.create_task(run(plan, ctx))
        watching = asyncio.create_task(watch())
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await watching
    by_run: dict[str, list[Event]] = defaultdict(list)
    for event in await history(stream):
        by_run[event.run_id].append(event)
    return by_run, plan_of, cancelled


def _check(plans: list[Plan]) -> None:
    by_run, plan_of, cancelled = asyncio.run(_runs(plans))
    for run_id, events in by_run.items():
        agui = mapped(events, run_id=f"client-{run_id}")
        models = check_run(_sse(agui))
        assert agui == mapped(events, run_id=f"client-{run_id}"), "the mapping is deterministic"
        status = events[-1].data.status  # type: ignore[union-attr]
        last = json.loads(agui[-1].json)
        if status == "ok":
            assert last["outcome"] == {"type": "success"}
        elif status == "cancelled":
            assert run_id in cancelled
            assert last["outcome"] == {"type": "cancelled"}
        else:
            assert last["type"] == "RUN_ERROR"
            assert last["code"] == status
        started = json.loads(agui[0].json)
        assert started["threadId"] == "client-thread"
        assert started["runId"] == f"client-{run_id}"
        assert started["protocolVersion"] == "1.0"
        calls = [e for e in events if e.type == "tool_executing"]
        assert sum(m.type == "TOOL_CALL_START" for m in models) == len(calls)
        assert sum(m.type == "TOOL_CALL_RESULT" for m in models) == len(calls)
        thoughts = sum(e.type == "agent_thinking" for e in events)
        assert sum(m.type == "REASONING_MESSAGE_CONTENT" for m in models) == thoughts
        text = "".join(e.data.delta for e in events if e.type == "message_delta")  # type: ignore[union-attr]
        streamed = "".join(m.delta for m in models if m.type == "TEXT_MESSAGE_CONTENT")  # type: ignore[attr-defined]
        assert streamed == text
    assert set(plan_of) == set(by_run)


@settings(max_examples=40, deadline=None)
@given(st.lists(plans, min_size=1, max_size=4))
def test_every_event_of_every_run_is_ag_ui_1_0(runs: list[Plan]) -> None:
    _check(runs)


def test_every_ending_at_once() -> None:
    """Success with every kind of tool failure, a model failure, a timeout, a cancellation
    inside a tool, and a script that runs out: each ends with its own terminal event."""
    _check(
        [
            Plan((((), ("ok", "raises", "hangs", "unknown", "bad_args")),), "text", "none", 1),
            Plan((), "fail", "none", 1),
            Plan((), "text", "timeout", 1),
            Plan(turns=(((), ("yields",)),), ending="text", interrupt="cancel", cancel_after=2),
            Plan((), "past_end", "none", 1),
        ]
    )
