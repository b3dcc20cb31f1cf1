"""engine.py: every run starts with one agent_started and ends with one agent_completed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from tests.helpers import (
    assert_gapless,
    assert_run_shape,
    history,
    make_factory,
    scripted,
    user_stream,
)

from goldpath.agents import Agent, AgentRegistry, Supervisor
from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits, RunOutcome, SilentSink, UserExecutionEngine
from goldpath.errors import ConfigurationError, GoldpathError, UnknownAgentError
from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    Emitter,
    Event,
    EventData,
    EventSink,
    MessageDelta,
)
from goldpath.factory import ExecutionEngineFactory, configure_execution_engine_factory
from goldpath.models import (
    ChatModel,
    Fail,
    Message,
    Pause,
    ScriptedModel,
    ScriptStep,
    TextDelta,
    Thought,
    ToolCall,
    Usage,
)
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, ToolDispatcher, tool

pytestmark = pytest.mark.unit


class Crashing(Agent):
    name = "crashing"

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        await emitter.emit(MessageDelta("about to crash"))
        raise RuntimeError(f"crashed on {message!r}")


class OwnTimeout(Crashing):
    name = "own_timeout"

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        raise TimeoutError("an upstream call timed out")


class Historian(Crashing):
    name = "historian"

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        return f"{len(history)} earlier messages; user {context.user_id}"


class Unmakeable(Crashing):
    name = "unmakeable"

    def __init__(self) -> None:
        raise ValueError("no API key in the environment")


@tool
async def broken(x: int = 0) -> str:
    """Always fails."""
    raise RuntimeError("tool broke")


def _factory(
    *turns: Sequence[ScriptStep], limits: RunLimits | None = None
) -> ExecutionEngineFactory:
    return make_factory(
        scripted(*turns),
        agents=AgentRegistry([Supervisor, Crashing, OwnTimeout, Historian, Unmakeable]),
        tools=[*BUILTIN_TOOLS, broken],
        limits=limits,
    )


async def _run(
    factory: ExecutionEngineFactory, agent: str = "supervisor", message: str = "hi"
) -> tuple[RunOutcome, list[Event]]:
    ctx = UserExecutionContext.create("u1", "t1")
    engine = factory.create_for_user(ctx)
    outcome = await engine.run(agent, message)
    events = await history(user_stream(factory, "u1"))
    assert_run_shape(events)
    assert_gapless(events)
    assert {e.run_id for e in events} == {ctx.run_id}
    return outcome, events


def _completed(events: list[Event]) -> AgentCompleted:
    data = events[-1].data
    assert isinstance(data, AgentCompleted)
    return data


async def test_ok_run() -> None:
    outcome, events = await _run(_factory([Thought("t"), TextDelta("Hi "), TextDelta("there")]))
    assert events[0].data == AgentStarted("hi")
    assert [e.type for e in events] == [
        "agent_started",
        "agent_thinking",
        "message_delta",
        "message_delta",
        "agent_completed",
    ]
    assert (outcome.status, outcome.text, outcome.error) == ("ok", "Hi there", None)
    completed = _completed(events)
    assert (completed.status, completed.text, completed.error) == ("ok", "Hi there", None)
    assert completed.duration_ms == outcome.duration_ms >= 0
    assert {e.agent for e in events} == {"supervisor"}


async def test_the_usage_the_model_reports_ends_the_run() -> None:
    factory = _factory(
        [ToolCall("c1", "calculator", {"expression": "2+2"}), Usage(40, 5)],
        [TextDelta("4"), Usage(60, 1)],
    )
    outcome, events = await _run(factory)
    assert outcome.usage == Usage(100, 6)
    completed = _completed(events)
    assert (completed.input_tokens, completed.output_tokens) == (100, 6)
    assert completed.to_data()["usage"] == {"input_tokens": 100, "output_tokens": 6}


async def test_no_usage_when_the_model_reports_none() -> None:
    outcome, events = await _run(_factory([TextDelta("4")]))
    assert outcome.usage is None
    assert "usage" not in _completed(events).to_data()


async def test_usage_is_kept_when_the_run_fails_after_a_model_call() -> None:
    factory = _factory([ToolCall("c1", "broken", {}), Usage(9, 2)], [Fail("gone")])
    outcome, events = await _run(factory)
    assert (outcome.status, outcome.usage) == ("error", Usage(9, 2))
    assert _completed(events).input_tokens == 9


async def test_an_agent_runs_with_the_model_it_names() -> None:
    class Named(Crashing):
        name = "named"
        model = "openai:big"

        async def run(
            self,
            context: UserExecutionContext,
            message: str,
            *,
            emitter: Emitter,
            tools: ToolDispatcher,
            model: ChatModel,
            history: Sequence[Message] = (),
        ) -> str:
            return model.name

    big = ScriptedModel([[TextDelta("x")]], name="big")
    factory = ExecutionEngineFactory(
        streams=InMemoryStreamHub(),
        model=ScriptedModel([[TextDelta("x")]], name="small"),
        models={"openai:big": big},
        agents=AgentRegistry([Named, Historian]),
    )
    engine = factory.create_for_user(UserExecutionContext.create("u1", "t1"))
    assert (await engine.run("named", "which?")).text == "big"
    assert (await engine.run(Named(), "which?")).text == "big"


def test_an_agent_naming_a_model_the_factory_lacks() -> None:
    class Named(Crashing):
        name = "named"
        model = "openai:big"

    with pytest.raises(ConfigurationError) as raised:
        ExecutionEngineFactory(
            streams=InMemoryStreamHub(),
            models={"offline": ScriptedModel([])},
            agents=AgentRegistry([Named]),
        )
    assert str(raised.value) == (
        "agent 'named' names the model 'openai:big', which the factory was not given "
        "(models: offline); pass it in models={'openai:big': ...}"
    )


async def test_agent_raising_ends_with_error_and_is_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="goldpath.engine"):
        outcome, events = await _run(_factory(), agent="crashing", message="x")
    assert outcome.status == "error"
    # The user is told the run failed; what failed, and where, is for the operator's log.
    assert (
        outcome.error == "the run failed because of an error in the server; try again in a moment"
    )
    (record,) = caplog.records
    assert record.getMessage() == "run failed: RuntimeError: crashed on 'x'"
    assert record.exc_info is not None  # with the traceback
    assert record.__dict__["run_id"] == events[0].run_id
    assert record.__dict__["user_id"] == "u1"
    assert outcome.text is None
    assert [e.type for e in events] == ["agent_started", "message_delta", "agent_completed"]
    assert _completed(events).error == outcome.error
    assert {e.agent for e in events} == {"crashing"}


async def test_agent_raising_in_init_ends_its_run_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="goldpath.engine"):
        outcome, events = await _run(_factory(), agent="unmakeable")
    assert outcome.status == "error"
    assert (
        outcome.error == "the run failed because of an error in the server; try again in a moment"
    )
    (record,) = caplog.records
    assert record.getMessage() == (
        "run failed: agent 'unmakeable' could not be created: ValueError: no API key in the "
        "environment; fix its __init__ (an agent is made afresh for every run)"
    )
    assert record.__dict__["run_id"] == events[0].run_id
    assert [e.type for e in events] == ["agent_started", "agent_completed"]
    assert _completed(events).error == outcome.error
    assert {e.agent for e in events} == {"unmakeable"}


async def test_agent_raising_timeout_itself_is_an_error_not_a_run_timeout() -> None:
    outcome, _ = await _run(_factory(), agent="own_timeout")
    assert outcome.status == "error"
    assert (
        outcome.error == "the run failed because of an error in the server; try again in a moment"
    )


async def test_model_failing_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    detail = "http://10.0.0.7/v1 answered HTTP 401; check GOLDPATH_OPENAI_API_KEY"
    with caplog.at_level(logging.ERROR, logger="goldpath.engine"):
        outcome, events = await _run(_factory([TextDelta("part"), Fail(detail)]))
    assert outcome.status == "error"
    assert outcome.error == "the model could not answer; try again in a moment"
    (record,) = caplog.records
    assert record.getMessage() == f"run failed: {detail}"  # goldpath's own message, as it is
    assert record.exc_info is None  # a ModelError says it all
    assert record.__dict__["run_id"] == events[0].run_id
    assert [e.type for e in events] == ["agent_started", "message_delta", "agent_completed"]
    assert _completed(events).status == "error"


async def test_tool_crashing_the_run_continues() -> None:
    outcome, events = await _run(
        _factory([ToolCall("c1", "broken", {})], [TextDelta("sorry, it broke")])
    )
    assert (outcome.status, outcome.text) == ("ok", "sorry, it broke")
    assert [e.type for e in events] == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "agent_completed",
    ]


async def test_too_many_tool_calls_ends_with_error() -> None:
    turns = [[ToolCall(f"c{n}", "calculator", {"expression": "1"})] for n in range(2)]
    outcome, events = await _run(_factory(*turns, limits=RunLimits(max_tool_calls=1)))
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "more than 1 tool calls" in outcome.error
    assert [e.type for e in events].count("tool_completed") == 2


async def test_run_timeout() -> None:
    factory = _factory([TextDelta("slow "), Pause(30)], limits=RunLimits(run_timeout=0.02))
    outcome, events = await _run(factory)
    assert outcome.status == "timeout"
    assert outcome.error == "the run took longer than 0.02 s and was stopped"
    assert [e.type for e in events] == ["agent_started", "message_delta", "agent_completed"]
    assert outcome.duration_ms < 5000


async def test_run_timeout_inside_a_tool_completes_the_tool_pair() -> None:
    started = asyncio.Event()

    @tool
    async def stuck() -> str:
        """Never returns."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    factory = make_factory(
        scripted([ToolCall("c1", "stuck", {})]),
        tools=[stuck],
        limits=RunLimits(run_timeout=0.02),
    )
    outcome, events = await _run(factory)
    assert started.is_set()
    assert outcome.status == "timeout"
    assert [e.type for e in events] == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]


async def test_cancellation_ends_with_cancelled_and_propagates() -> None:
    factory = _factory([TextDelta("first"), Pause(30), TextDelta("never")])
    ctx = UserExecutionContext.create("u1", "t1")
    stream = user_stream(factory, "u1")
    subscription = await stream.subscribe()
    task = asyncio.create_task(factory.create_for_user(ctx).run("supervisor", "hi"))
    while (await subscription.get()).type != "message_delta":
        pass
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = await history(stream)
    assert_run_shape(events)
    assert [e.type for e in events] == ["agent_started", "message_delta", "agent_completed"]
    completed = _completed(events)
    assert (completed.status, completed.error) == ("cancelled", "the run was cancelled")


async def test_on_complete_runs_before_agent_completed_is_emitted() -> None:
    factory = _factory([TextDelta("answer")])
    stream = user_stream(factory, "u1")
    seen: list[tuple[RunOutcome, list[str]]] = []

    async def on_complete(outcome: RunOutcome) -> None:
        seen.append((outcome, [e.type for e in await history(stream)]))

    ctx = UserExecutionContext.create("u1", "t1")
    outcome = await factory.create_for_user(ctx).run("supervisor", "q", on_complete=on_complete)
    assert len(seen) == 1
    given, types_then = seen[0]
    assert given == outcome
    assert given.text == "answer"
    assert types_then == ["agent_started", "message_delta"]
    assert [e.type for e in await history(stream)] == [
        "agent_started",
        "message_delta",
        "agent_completed",
    ]


async def test_on_complete_sees_cancellation() -> None:
    factory = _factory([Pause(30)])
    stream = user_stream(factory, "u1")
    subscription = await stream.subscribe()
    statuses: list[str] = []

    async def on_complete(outcome: RunOutcome) -> None:
        statuses.append(outcome.status)

    ctx = UserExecutionContext.create("u1", "t1")
    task = asyncio.create_task(
        factory.create_for_user(ctx).run("supervisor", "q", on_complete=on_complete)
    )
    await subscription.get()  # agent_started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert statuses == ["cancelled"]
    assert _completed(await history(stream)).status == "cancelled"


async def test_on_complete_raising_ends_with_error() -> None:
    factory = _factory([TextDelta("answer")])

    async def on_complete(outcome: RunOutcome) -> None:
        raise OSError("disk full")

    ctx = UserExecutionContext.create("u1", "t1")
    outcome = await factory.create_for_user(ctx).run("supervisor", "q", on_complete=on_complete)
    assert outcome.status == "error"
    assert outcome.error == "the run's result could not be saved; try again in a moment"
    assert outcome.text == "answer"
    events = await history(user_stream(factory, "u1"))
    assert_run_shape(events)
    completed = _completed(events)
    assert (completed.status, completed.error) == ("error", outcome.error)


async def test_cancelled_while_on_complete_awaits_still_emits_agent_completed() -> None:
    factory = _factory([TextDelta("answer")])
    saving = asyncio.Event()

    async def on_complete(outcome: RunOutcome) -> None:
        saving.set()
        await asyncio.Event().wait()  # a slow database write

    ctx = UserExecutionContext.create("u1", "t1")
    task = asyncio.create_task(
        factory.create_for_user(ctx).run("supervisor", "q", on_complete=on_complete)
    )
    await saving.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = await history(user_stream(factory, "u1"))
    assert_run_shape(events)


async def test_unknown_agent_raises_before_any_event() -> None:
    factory = _factory([TextDelta("x")])
    engine = factory.create_for_user(UserExecutionContext.create("u1", "t1"))
    with pytest.raises(UnknownAgentError, match="known agents: crashing, historian"):
        await engine.run("nobody", "hi")
    assert await history(user_stream(factory, "u1")) == []


async def test_run_an_instance_with_history() -> None:
    factory = _factory()
    ctx = UserExecutionContext.create("u1", "t1")
    engine = factory.create_for_user(ctx)
    assert engine.context is ctx
    assert isinstance(engine, UserExecutionEngine)
    earlier = [Message("user", "a"), Message("assistant", "b")]
    outcome = await engine.run(Historian(), "c", history=earlier)
    assert (outcome.status, outcome.text) == ("ok", "2 earlier messages; user u1")


async def test_engine_emitter_speaks_for_the_run() -> None:
    factory = _factory()
    ctx = UserExecutionContext.create("u1", "t1")
    event = await factory.create_for_user(ctx).emitter("helper").emit(MessageDelta("x"))
    assert (event.run_id, event.agent, event.offset) == (ctx.run_id, "helper", 1)


def test_run_limits_defaults_follow_the_protocol() -> None:
    limits = RunLimits()
    assert (limits.max_runs_per_user, limits.run_timeout, limits.max_tool_calls) == (4, 120.0, 32)
    assert limits.tool_timeout > 0


@pytest.mark.parametrize(
    "field", ["max_runs_per_user", "run_timeout", "max_tool_calls", "tool_timeout"]
)
@pytest.mark.parametrize("value", [0, -1])
def test_run_limits_must_be_positive(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"RunLimits.{field} must be positive"):
        RunLimits(**{field: value})


# --- the legacy entry point, kept for code written against the old constructor -------


@pytest.mark.usefixtures("no_process_factory")
async def test_legacy_with_a_bridge_writes_to_the_bridges_user() -> None:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    bridge = Emitter(ctx, hub.for_user("u1"), "legacy")
    engine = await UserExecutionEngine.create_from_legacy(AgentRegistry([Supervisor]), bridge)
    assert engine.context is ctx
    outcome = await engine.run("supervisor", "What is 17 * 23?")  # offline model, built-ins
    assert (outcome.status, outcome.text) == ("ok", "17 * 23 = 391.")
    events = await history(hub.for_user("u1"))
    assert_run_shape(events)
    assert {e.run_id for e in events} == {ctx.run_id}


@pytest.mark.usefixtures("no_process_factory")
async def test_legacy_without_a_bridge_uses_the_process_factory() -> None:
    factory = _factory([TextDelta("from the factory's model")], limits=RunLimits(run_timeout=9))
    configure_execution_engine_factory(factory)
    ctx = UserExecutionContext.create("u1", "t1")
    engine = await UserExecutionEngine.create_from_legacy(
        AgentRegistry([Supervisor]), user_context=ctx
    )
    outcome = await engine.run("supervisor", "hi")
    assert outcome.text == "from the factory's model"
    events = await history(user_stream(factory, "u1"))
    assert_run_shape(events)


@pytest.mark.usefixtures("no_process_factory")
async def test_legacy_without_bridge_or_context_is_silent() -> None:
    factory = _factory([TextDelta("x")])
    configure_execution_engine_factory(factory)
    engine = await UserExecutionEngine.create_from_legacy(AgentRegistry([Supervisor]))
    assert engine.context.user_id == "anonymous"
    outcome = await engine.run("supervisor", "hi")
    assert outcome.status == "ok"
    assert await history(user_stream(factory, "anonymous")) == []


async def test_silent_sink_numbers_events_and_keeps_none() -> None:
    sink = SilentSink()
    first = await sink.append("r", "t", "a", "ts", MessageDelta("x"))
    second = await sink.append("r", "t", "a", "ts", MessageDelta("y"))
    assert (first.offset, second.offset) == (1, 2)


@pytest.mark.usefixtures("no_process_factory")
async def test_legacy_bridge_of_another_user_cannot_carry_this_users_run() -> None:
    hub = InMemoryStreamHub()
    alice = UserExecutionContext.create("alice", "t1")
    bob = UserExecutionContext.create("bob", "t2")
    alices_bridge = Emitter(alice, hub.for_user("alice"), "legacy")
    try:
        engine = await UserExecutionEngine.create_from_legacy(
            AgentRegistry([Supervisor]), alices_bridge, bob
        )
        await engine.run("supervisor", "hello")
    except GoldpathError:
        return  # refusing the mismatch is a fine answer
    assert [e for e in await history(hub.for_user("alice")) if e.run_id == bob.run_id] == []


@pytest.mark.usefixtures("no_process_factory")
async def test_legacy_bridge_and_context_of_the_same_user() -> None:
    hub = InMemoryStreamHub()
    first = UserExecutionContext.create("u1", "t1")
    second = UserExecutionContext.create("u1", "t2")
    bridge = Emitter(first, hub.for_user("u1"), "legacy")
    engine = await UserExecutionEngine.create_from_legacy(
        AgentRegistry([Supervisor]), bridge, second
    )
    assert engine.context is second
    assert (await engine.run("supervisor", "hello")).status == "ok"
    events = await history(hub.for_user("u1"))
    assert_run_shape(events)
    assert {(e.run_id, e.thread_id) for e in events} == {(second.run_id, "t2")}


class _FailingFirstAppend:
    """A stream whose first append fails, as a remote backend's can."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        if not self.events and isinstance(data, AgentStarted):
            self.events.append(Event(0, run_id, thread_id, agent, ts, data))
            raise ConnectionError("the stream backend went away")
        event = Event(len(self.events), run_id, thread_id, agent, ts, data)
        self.events.append(event)
        return event


async def test_a_failed_agent_started_still_ends_the_run() -> None:
    sink = _FailingFirstAppend()
    engine = UserExecutionEngine(
        UserExecutionContext.create("u1", "t1"),
        sink=sink,
        model=ScriptedModel([[TextDelta("x")]]),
        agents=AgentRegistry([Supervisor]),
        tools={},
        limits=RunLimits(),
    )
    saved: list[RunOutcome] = []

    async def on_complete(outcome: RunOutcome) -> None:
        saved.append(outcome)

    outcome = await engine.run("supervisor", "q", on_complete=on_complete)
    assert outcome.status == "error"
    assert (
        outcome.error == "the run failed because of an error in the server; try again in a moment"
    )
    assert saved == [outcome]
    assert sink.events[-1].type == "agent_completed"


class _BrokenWatch:
    """An observer's view of a run whose `finished` fails (a metrics or tracing bug)."""

    def sink(self, sink: EventSink) -> EventSink:
        return sink

    def model(self, model: ChatModel) -> ChatModel:
        return model

    def finished(self, outcome: RunOutcome) -> None:
        raise RuntimeError("observer bug")


class _BrokenObserver:
    def watch(self, context: UserExecutionContext, agent: str) -> _BrokenWatch:
        return _BrokenWatch()


async def test_an_observer_that_fails_is_logged_and_the_run_still_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = ExecutionEngineFactory(
        streams=InMemoryStreamHub(),
        model=scripted([TextDelta("fine")]),
        observer=_BrokenObserver(),
    )
    with caplog.at_level(logging.ERROR, logger="goldpath.engine"):
        outcome, events = await _run(factory)
    assert outcome.status == "ok"
    assert _completed(events).status == "ok"  # _run checked: exactly one, last
    (record,) = caplog.records
    assert record.getMessage() == "a run observer failed: RuntimeError: observer bug"
    assert record.__dict__["run_id"] == events[0].run_id
