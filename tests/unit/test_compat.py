"""The legacy API still runs, warns once per call site with the replacement, and emits the
same events as the canonical API."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import goldpath
from goldpath import (
    ExecutionEngineFactory,
    InMemoryStreamHub,
    Replay,
    UserExecutionContext,
    UserExecutionEngine,
    builtin_agents,
    configure_execution_engine_factory,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def hub() -> Iterator[InMemoryStreamHub]:
    hub = InMemoryStreamHub()
    configure_execution_engine_factory(ExecutionEngineFactory(streams=hub))
    yield hub
    configure_execution_engine_factory(None)


async def _shape(hub: InMemoryStreamHub, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Each event's type and data, without what differs between two runs (ids, times)."""
    stream = hub.for_user(user_id)
    replay = await stream.read_after(stream.epoch, 0)
    assert isinstance(replay, Replay)
    shapes = []
    for event in replay.events:
        data = event.data.to_data()
        data.pop("duration_ms", None)
        data.pop("call_id", None)
        shapes.append((event.type, data))
    return shapes


def _context(user_id: str, **extra: Any) -> UserExecutionContext:
    return UserExecutionContext(
        user_id=user_id, thread_id="thr_1", run_id=f"run_{user_id}", request_id="req_1", **extra
    )


async def test_legacy_engine_emits_the_same_events_as_the_canonical_one(
    hub: InMemoryStreamHub,
) -> None:
    from goldpath.compat import AgentWebSocketBridge, ExecutionEngine

    with pytest.warns(DeprecationWarning, match="use the engine's emitter"):
        bridge = AgentWebSocketBridge.create_for_user(_context("usr_old"))
    with pytest.warns(DeprecationWarning, match=r"UserExecutionEngine\.create_from_legacy"):
        legacy = ExecutionEngine(builtin_agents(), bridge, _context("usr_old"))
    assert isinstance(legacy, ExecutionEngine)
    assert isinstance(legacy, UserExecutionEngine)
    old = await legacy.run("supervisor", "What is 17 * 23?")

    factory = goldpath.get_execution_engine_factory()
    async with factory.user_execution_engine(_context("usr_new")) as engine:
        new = await engine.run("supervisor", "What is 17 * 23?")

    assert old.text == new.text == "17 * 23 = 391."
    assert await _shape(hub, "usr_old") == await _shape(hub, "usr_new")


async def test_create_from_legacy_makes_the_users_bridge(hub: InMemoryStreamHub) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the canonical class never warns
        engine = await UserExecutionEngine.create_from_legacy(
            builtin_agents(), None, _context("usr_a")
        )
    await engine.run("supervisor", "What is 2 + 2?")
    shapes = await _shape(hub, "usr_a")
    assert shapes[0][0] == "agent_started"
    assert shapes[-1][0] == "agent_completed"


async def test_create_from_legacy_without_context_is_silent(hub: InMemoryStreamHub) -> None:
    engine = await UserExecutionEngine.create_from_legacy(builtin_agents())
    outcome = await engine.run("supervisor", "What is 2 + 2?")
    assert outcome.text == "2 + 2 = 4."
    assert hub.for_user("anonymous").latest_offset == 0


async def test_anonymous_bridge_goes_nowhere(hub: InMemoryStreamHub) -> None:
    from goldpath.compat import AgentWebSocketBridge

    with pytest.warns(DeprecationWarning, match="create_anonymous"):
        bridge = AgentWebSocketBridge.create_anonymous()
    event = await bridge.emit(goldpath.AgentThinking("hm"))
    assert event.offset == 1
    assert hub.for_user("anonymous").latest_offset == 0


def test_metadata_becomes_agent_context() -> None:
    from goldpath.compat import UserExecutionContext as LegacyContext

    with pytest.warns(DeprecationWarning, match="agent_context"):
        context = LegacyContext(
            user_id="usr_1", thread_id="thr_1", run_id="run_1", request_id="req_1",
            metadata={"plan": "pro"},
        )  # fmt: skip
    assert isinstance(context, LegacyContext)
    assert type(context) is UserExecutionContext
    assert dict(context.agent_context) == {"plan": "pro"}
    assert not hasattr(context, "metadata")


def test_old_import_paths_warn_and_resolve_to_the_canonical_names() -> None:
    import goldpath.compat

    with pytest.warns(DeprecationWarning, match=r"use goldpath\.ExecutionEngineFactory"):
        moved = goldpath.compat.ExecutionEngineFactory
    assert moved is ExecutionEngineFactory
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = goldpath.compat.Nope


def test_warning_points_at_the_callers_line() -> None:
    from goldpath.compat import AgentWebSocketBridge

    with pytest.warns(DeprecationWarning, match="create_anonymous") as caught:
        AgentWebSocketBridge.create_anonymous()
    assert caught[0].filename == __file__
