"""Random scripted runs with random failures, cancellations and timeouts keep the guarantees.

For every run: ``agent_started`` first, ``agent_completed`` last, exactly once each; every
``tool_executing`` followed by exactly one ``tool_completed`` with its ``call_id``; and the
user's stream has gapless offsets across all runs. Cancellation is synchronised on the
stream (the run is cancelled after it has emitted k events), never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits, RunOutcome
from goldpath.events import AgentCompleted, Event
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import Fail, Pause, ScriptedModel, ScriptStep, TextDelta, Thought, ToolCall
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, tool
from tests.helpers import assert_gapless, assert_run_shape, history

pytestmark = pytest.mark.integration

MAX_TOOL_CALLS = 5
RUN_TIMEOUT = 0.15  # only runs meant to time out use it (their last turn waits 30 s); the
# turns before must fit in it with room to spare on a loaded machine


@tool
async def raises(x: int = 0) -> str:
    """Always fails."""
    raise RuntimeError("the tool crashed")


@tool
async def yields(x: int = 0) -> int:
    """Gives the loop a turn, so a cancellation can land inside a tool."""
    await asyncio.sleep(0)
    return x


@tool(timeout=0.002)
async def hangs() -> str:
    """Outlives its own 2 ms timeout."""
    await asyncio.Event().wait()
    return "never"


TOOLS = [*BUILTIN_TOOLS, raises, yields, hangs]

CallKind = Literal["ok", "yields", "raises", "hangs", "unknown", "bad_args", "not_object"]
_CALLS: dict[CallKind, tuple[str, object]] = {
    "ok": ("calculator", {"expression": "17*23"}),
    "yields": ("yields", {"x": 3}),
    "raises": ("raises", {}),
    "hangs": ("hangs", {}),
    "unknown": ("no_such_tool", {}),
    "bad_args": ("calculator", {"expression": True}),
    "not_object": ("calculator", "17*23"),
}

Ending = Literal["text", "fail", "past_end"]
Interrupt = Literal["none", "cancel", "timeout"]


@dataclass(frozen=True)
class Plan:
    turns: tuple[tuple[tuple[ScriptStep, ...], tuple[CallKind, ...]], ...]
    ending: Ending
    interrupt: Interrupt
    cancel_after: int

    def script(self) -> ScriptedModel:
        turns: list[list[ScriptStep]] = []
        for n, (steps, calls) in enumerate(self.turns):
            turn: list[ScriptStep] = list(steps)
            for m, kind in enumerate(calls):
                name, arguments = _CALLS[kind]
                turn.append(ToolCall(f"call_{n}_{m}", name, arguments))
            turns.append(turn)
        last: list[ScriptStep] = [TextDelta("the "), Pause(0), TextDelta("end")]
        if self.interrupt == "timeout":
            last.insert(1, Pause(30))
        if self.ending == "fail":
            last.insert(2, Fail("the provider hung up"))
        if self.ending != "past_end":
            turns.append(last)
        return ScriptedModel(turns)

    def tool_calls(self) -> int:
        return sum(len(calls) for _, calls in self.turns)

    def expected_status(self, cancelled: bool) -> str:
        if cancelled:
            return "cancelled"
        if self.tool_calls() > MAX_TOOL_CALLS or self.ending == "past_end":
            return "error"
        if self.interrupt == "timeout":
            return "timeout"
        return "error" if self.ending == "fail" else "ok"


_steps = st.lists(
    st.sampled_from([TextDelta("word "), Thought("hmm"), Pause(0), Pause(0.0005)]), max_size=4
)
_calls = st.lists(st.sampled_from(list(_CALLS)), min_size=1, max_size=3).map(tuple)
_turn = st.tuples(_steps.map(tuple), _calls)
plans = st.builds(
    Plan,
    turns=st.lists(_turn, max_size=3).map(tuple),
    ending=st.sampled_from(["text", "text", "fail", "past_end"]),
    interrupt=st.sampled_from(["none", "none", "cancel", "cancel", "timeout"]),
    cancel_after=st.integers(min_value=1, max_value=12),
)


async def _scenario(plans: list[Plan]) -> None:
    hub = InMemoryStreamHub()
    stream = hub.for_user("u1")
    bystander = await hub.for_user("u2").subscribe()
    watcher = await stream.subscribe()
    contexts = [UserExecutionContext.create("u1", f"t{n}") for n in range(len(plans))]
    tasks: dict[str, asyncio.Task[RunOutcome]] = {}
    cancelled: set[str] = set()

    def factory_for(plan: Plan) -> ExecutionEngineFactory:
        timeout = RUN_TIMEOUT if plan.interrupt == "timeout" else 30.0
        return ExecutionEngineFactory(
            streams=hub,
            model=plan.script(),
            tools=TOOLS,
            limits=RunLimits(max_tool_calls=MAX_TOOL_CALLS, run_timeout=timeout),
        )

    async def run(plan: Plan, ctx: UserExecutionContext) -> RunOutcome:
        async with factory_for(plan).user_execution_engine(ctx) as engine:
            return await engine.run("supervisor", "go")

    async def watch() -> None:
        """Cancel a run once it has emitted ``cancel_after`` events; stop when all ended."""
        seen: dict[str, int] = defaultdict(int)
        plan_of = {ctx.run_id: plan for ctx, plan in zip(contexts, plans, strict=True)}
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
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
        await watching

    events = await history(stream)
    assert_gapless(events)
    by_run: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_run[event.run_id].append(event)
    assert set(by_run) == set(tasks)
    for ctx, plan, result in zip(contexts, plans, results, strict=True):
        run_events = by_run[ctx.run_id]
        assert_run_shape(run_events)
        assert {e.thread_id for e in run_events} == {ctx.thread_id}
        completed = run_events[-1].data
        assert isinstance(completed, AgentCompleted)
        was_cancelled = ctx.run_id in cancelled
        expected = {plan.expected_status(was_cancelled)}
        if plan.interrupt == "timeout":
            expected.add("timeout")  # a stalled machine may run out of time before the end
        assert completed.status in expected, (plan, completed)
        if was_cancelled:
            assert isinstance(result, asyncio.CancelledError)
        else:
            assert isinstance(result, RunOutcome), result
            assert result.status == completed.status
    assert bystander.pending() == 0
    assert watcher.pending() == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(plans, min_size=1, max_size=4))
def test_every_run_keeps_the_protocol_guarantees(runs: list[Plan]) -> None:
    asyncio.run(_scenario(runs))


def test_a_cancelled_run_inside_a_tool_still_pairs_it() -> None:
    plan = Plan(turns=(((), ("yields",)),), ending="text", interrupt="cancel", cancel_after=2)
    asyncio.run(_scenario([plan]))


def test_every_kind_of_failure_at_once() -> None:
    plan = Plan(
        turns=(((Thought("t"),), ("ok", "raises", "hangs", "unknown", "bad_args")),),
        ending="text",
        interrupt="none",
        cancel_after=1,
    )
    asyncio.run(_scenario([plan, Plan((), "fail", "timeout", 1), Plan((), "past_end", "none", 1)]))
