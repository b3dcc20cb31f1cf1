"""Resume at the stream level, with real runs: every missed event once, or a resync reason."""

from __future__ import annotations

import pytest

from goldpath.context import UserExecutionContext
from goldpath.events import Event
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import TextDelta, Thought, ToolCall
from goldpath.stream import InMemoryStreamHub, Replay, Resync
from tests.helpers import assert_gapless, assert_run_shape, drain, history, make_factory, scripted

pytestmark = pytest.mark.integration

EVENTS_PER_RUN = 7  # started, thinking, executing, completed, two deltas, completed


def _factory(hub: InMemoryStreamHub) -> ExecutionEngineFactory:
    return make_factory(
        scripted(
            [Thought("adding"), ToolCall("c1", "calculator", {"expression": "2+2"})],
            [TextDelta("2 + 2 "), TextDelta("= 4.")],
        ),
        hub=hub,
    )


async def _runs(factory: ExecutionEngineFactory, count: int, user: str = "u1") -> None:
    for _ in range(count):
        ctx = UserExecutionContext.create(user, "t1")
        async with factory.user_execution_engine(ctx) as engine:
            assert (await engine.run("supervisor", "2+2?")).status == "ok"


async def test_resume_inside_the_window_returns_exactly_the_missed_events() -> None:
    hub = InMemoryStreamHub()
    factory = _factory(hub)
    stream = hub.for_user("u1")
    connection = await stream.subscribe()
    await _runs(factory, 2)
    seen = await drain(connection)
    assert len(seen) == 2 * EVENTS_PER_RUN
    connection.close()  # the tab goes away; the user's runs go on
    last_seen = seen[-1].offset

    await _runs(factory, 3)
    await _runs(factory, 1, user="u2")
    answer = await stream.read_after(stream.epoch, last_seen)
    assert isinstance(answer, Replay)
    assert answer.offset == stream.latest_offset == 5 * EVENTS_PER_RUN
    assert_gapless(answer.events, first=last_seen + 1)
    assert len(answer.events) == 3 * EVENTS_PER_RUN
    assert {e.run_id for e in answer.events}.isdisjoint({e.run_id for e in seen})
    assert list(answer.events) == (await history(stream))[last_seen:]
    for n in range(3):
        assert_run_shape(answer.events[n * EVENTS_PER_RUN : (n + 1) * EVENTS_PER_RUN])


async def test_resume_with_subscribe_first_delivers_each_offset_once() -> None:
    """The order a server follows: subscribe, read the history, then live events after it."""
    hub = InMemoryStreamHub()
    factory = _factory(hub)
    stream = hub.for_user("u1")
    await _runs(factory, 2)
    last_seen = 3
    live = await stream.subscribe()
    replay = await stream.read_after(stream.epoch, last_seen)
    assert isinstance(replay, Replay)
    await _runs(factory, 1)
    delivered: list[Event] = list(replay.events)
    delivered += [e for e in await drain(live) if e.offset > replay.offset]
    assert_gapless(delivered, first=last_seen + 1)
    assert delivered[-1].offset == stream.latest_offset == 3 * EVENTS_PER_RUN


async def test_resume_outside_the_window_is_a_resync() -> None:
    hub = InMemoryStreamHub(history_events=EVENTS_PER_RUN, history_cap=2 * EVENTS_PER_RUN)
    factory = _factory(hub)
    stream = hub.for_user("u1")
    await _runs(factory, 4)
    latest = 4 * EVENTS_PER_RUN
    assert await stream.read_after(stream.epoch, 1) == Resync(
        "history_expired", stream.epoch, latest
    )
    # the edge of the window: the oldest kept event is 2 * EVENTS_PER_RUN + 1
    inside = await stream.read_after(stream.epoch, 2 * EVENTS_PER_RUN)
    assert isinstance(inside, Replay)
    assert len(inside.events) == 2 * EVENTS_PER_RUN
    outside = await stream.read_after(stream.epoch, 2 * EVENTS_PER_RUN - 1)
    assert outside == Resync("history_expired", stream.epoch, latest)


async def test_resume_with_another_epoch_is_a_resync() -> None:
    before = InMemoryStreamHub()
    await _runs(_factory(before), 2)
    old_epoch = before.for_user("u1").epoch
    restarted = InMemoryStreamHub()  # a restart: the in-memory history is gone
    stream = restarted.for_user("u1")
    await _runs(_factory(restarted), 1)
    answer = await stream.read_after(old_epoch, 5)
    assert answer == Resync("epoch_changed", stream.epoch, EVENTS_PER_RUN)
    assert stream.epoch != old_epoch


async def test_resume_ahead_of_the_stream_is_a_resync() -> None:
    hub = InMemoryStreamHub()
    await _runs(_factory(hub), 1)
    stream = hub.for_user("u1")
    answer = await stream.read_after(stream.epoch, EVENTS_PER_RUN + 1)
    assert answer == Resync("offset_ahead", stream.epoch, EVENTS_PER_RUN)


async def test_resume_at_the_newest_offset_replays_nothing() -> None:
    hub = InMemoryStreamHub()
    await _runs(_factory(hub), 1)
    stream = hub.for_user("u1")
    assert await stream.read_after(stream.epoch, EVENTS_PER_RUN) == Replay((), EVENTS_PER_RUN)
