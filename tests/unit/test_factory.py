"""factory.py: the one place engines are made; user slots; the process-wide accessor."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from tests.helpers import assert_run_shape, history, make_factory, scripted, user_stream

from goldpath.agents import AgentRegistry, Supervisor
from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits, UserExecutionEngine
from goldpath.errors import (
    ConfigurationError,
    RegistryFrozenError,
    ToolDefinitionError,
    TooManyRunsError,
)
from goldpath.factory import (
    ExecutionEngineFactory,
    configure_execution_engine_factory,
    create_request_scoped_engine,
    get_execution_engine_factory,
)
from goldpath.models import OfflineModel, Pause, TextDelta
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, calculator

pytestmark = pytest.mark.unit


def _ctx(user: str = "u1") -> UserExecutionContext:
    return UserExecutionContext.create(user, "t1")


def test_defaults() -> None:
    hub = InMemoryStreamHub()
    factory = ExecutionEngineFactory(streams=hub)
    assert isinstance(factory.model, OfflineModel)
    assert factory.agents.names() == ["supervisor"]
    assert factory.limits == RunLimits()
    assert not hasattr(factory, "streams")  # no side door to every user's stream
    assert dict(factory.tools) == {t.name: t for t in BUILTIN_TOOLS}
    with pytest.raises(TypeError):
        factory.tools["calculator"] = calculator  # type: ignore[index]


async def test_user_execution_engine_runs_and_releases() -> None:
    factory = make_factory(scripted([TextDelta("hi")]))
    ctx = _ctx()
    async with factory.user_execution_engine(ctx) as engine:
        assert isinstance(engine, UserExecutionEngine)
        assert engine.context is ctx
        assert factory.runs_in_flight("u1") == 1
        outcome = await engine.run("supervisor", "hello")
    assert outcome.status == "ok"
    assert factory.runs_in_flight("u1") == 0
    events = await history(user_stream(factory, "u1"))
    assert_run_shape(events)
    assert await history(user_stream(factory, "u2")) == []


async def test_four_in_flight_then_the_fifth_is_refused() -> None:
    factory = make_factory(limits=RunLimits(max_runs_per_user=4))
    async with AsyncExitStack() as stack:
        for n in range(4):
            await stack.enter_async_context(factory.user_execution_engine(_ctx()))
            assert factory.runs_in_flight("u1") == n + 1
        with pytest.raises(TooManyRunsError) as caught:
            await stack.enter_async_context(factory.user_execution_engine(_ctx()))
        assert (caught.value.user_id, caught.value.limit) == ("u1", 4)
        assert factory.runs_in_flight("u1") == 4
        # another user is counted on their own
        async with factory.user_execution_engine(_ctx("u2")):
            assert factory.runs_in_flight("u2") == 1
            assert factory.runs_in_flight("u1") == 4
    assert factory.runs_in_flight("u1") == 0
    assert factory.runs_in_flight("u2") == 0


async def test_the_limit_comes_from_run_limits() -> None:
    factory = make_factory(limits=RunLimits(max_runs_per_user=1))
    async with factory.user_execution_engine(_ctx()):
        with pytest.raises(TooManyRunsError):
            async with factory.user_execution_engine(_ctx()):
                pass  # pragma: no cover - never entered


async def test_slot_released_after_an_error() -> None:
    factory = make_factory(limits=RunLimits(max_runs_per_user=1))
    with pytest.raises(RuntimeError, match="caller failed"):
        async with factory.user_execution_engine(_ctx()):
            raise RuntimeError("caller failed")
    assert factory.runs_in_flight("u1") == 0
    async with factory.user_execution_engine(_ctx()):
        assert factory.runs_in_flight("u1") == 1


async def test_slot_released_after_a_failed_run() -> None:
    factory = make_factory(scripted(), limits=RunLimits(max_runs_per_user=1))
    async with factory.user_execution_engine(_ctx()) as engine:
        assert (await engine.run("supervisor", "x")).status == "error"
    assert factory.runs_in_flight("u1") == 0


async def test_slot_released_after_cancellation() -> None:
    factory = make_factory(scripted([Pause(30)]), limits=RunLimits(max_runs_per_user=1))
    subscription = await user_stream(factory, "u1").subscribe()

    async def run() -> None:
        async with factory.user_execution_engine(_ctx()) as engine:
            await engine.run("supervisor", "x")

    task = asyncio.create_task(run())
    await subscription.get()  # agent_started: the slot is taken and the run is waiting
    assert factory.runs_in_flight("u1") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert factory.runs_in_flight("u1") == 0


def test_the_factory_freezes_its_registry() -> None:
    registry = AgentRegistry([Supervisor])
    factory = make_factory(agents=registry)
    assert factory.agents is registry
    assert registry.frozen
    with pytest.raises(RegistryFrozenError):
        registry.register(Supervisor)


def test_duplicate_tool_names_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="two tools are named 'calculator'; rename one"):
        make_factory(tools=[*BUILTIN_TOOLS, calculator])


def test_a_function_given_as_a_tool_is_a_definition_error() -> None:
    async def shout(text: str) -> str:
        return text.upper()

    with pytest.raises(ToolDefinitionError) as raised:
        make_factory(tools=[calculator, shout])  # type: ignore[list-item]
    assert str(raised.value) == (
        "tools[1] is 'shout', not a Tool; decorate the function with @tool"
    )


async def test_create_for_user_takes_no_slot() -> None:
    factory = make_factory(scripted([TextDelta("x")]))
    engine = factory.create_for_user(_ctx())
    assert factory.runs_in_flight("u1") == 0
    assert (await engine.run("supervisor", "x")).status == "ok"


async def test_engines_write_to_their_own_users_stream() -> None:
    factory = make_factory(scripted([TextDelta("x")]))
    await factory.create_for_user(_ctx("alice")).run("supervisor", "x")
    assert len(await history(user_stream(factory, "alice"))) == 3
    assert await history(user_stream(factory, "bob")) == []


@pytest.mark.usefixtures("no_process_factory")
def test_process_factory_is_unset_until_configured() -> None:
    with pytest.raises(ConfigurationError, match="configure_execution_engine_factory"):
        get_execution_engine_factory()
    with pytest.raises(ConfigurationError):
        create_request_scoped_engine(_ctx())


@pytest.mark.usefixtures("no_process_factory")
async def test_process_factory_once_configured() -> None:
    factory = make_factory(scripted([TextDelta("x")]))
    configure_execution_engine_factory(factory)
    assert get_execution_engine_factory() is factory
    engine = create_request_scoped_engine(_ctx())
    assert engine.context.user_id == "u1"
    assert (await engine.run("supervisor", "x")).status == "ok"
    assert factory.runs_in_flight("u1") == 0
    assert len(await history(user_stream(factory, "u1"))) == 3
    configure_execution_engine_factory(None)
    with pytest.raises(ConfigurationError):
        get_execution_engine_factory()
