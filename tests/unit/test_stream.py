"""stream/: per-user ordered logs with gapless offsets, an epoch, bounded history and fan-out."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import assert_gapless, drain, history

from goldpath.errors import SubscriptionClosedError
from goldpath.events import Event, MessageDelta
from goldpath.stream import InMemoryStreamHub, InMemoryUserStream, Replay, Resync, StreamHub

pytestmark = pytest.mark.unit

TS = "2026-01-01T00:00:00.000000Z"


class Clock:
    """Monotonic time the test moves by hand, so history ages without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("goldpath.stream.memory.time", fake)
    return fake


async def _append(stream: InMemoryUserStream, n: int, run_id: str = "r1") -> list[Event]:
    return [await stream.append(run_id, "t1", "a", TS, MessageDelta(str(i))) for i in range(n)]


async def test_offsets_are_gapless_from_one() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    assert stream.latest_offset == 0
    events = await _append(stream, 5)
    assert_gapless(events)
    assert stream.latest_offset == 5
    assert events[2].json.count('"offset":3') == 1
    assert {event.epoch for event in events} == {stream.epoch}


async def test_each_user_has_their_own_offsets() -> None:
    hub = InMemoryStreamHub()
    await _append(hub.for_user("u1"), 3)
    assert hub.for_user("u1") is hub.for_user("u1")
    assert hub.for_user("u2").latest_offset == 0
    assert (await _append(hub.for_user("u2"), 1))[0].offset == 1


def test_epoch_differs_per_hub_and_user() -> None:
    first, second = InMemoryStreamHub(), InMemoryStreamHub()
    assert first.for_user("u1").epoch == first.for_user("u1").epoch
    assert first.for_user("u1").epoch != second.for_user("u1").epoch
    assert first.for_user("u1").epoch != first.for_user("u2").epoch
    assert len(first.for_user("u1").epoch) >= 16


async def test_hub_close_and_check_need_nothing_in_memory() -> None:
    hub: StreamHub = InMemoryStreamHub()
    await hub.check()
    await hub.close()


async def test_read_after_inside_the_window_returns_exactly_the_missing_events() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    events = await _append(stream, 10)
    for seen in range(11):
        answer = await stream.read_after(stream.epoch, seen)
        assert answer == Replay(tuple(events[seen:]), 10)


async def test_read_after_at_zero_on_an_empty_stream() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    assert await stream.read_after(stream.epoch, 0) == Replay((), 0)


async def test_read_after_with_another_epoch() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    await _append(stream, 3)
    other = InMemoryStreamHub().for_user("u1").epoch
    assert await stream.read_after(other, 1) == Resync("epoch_changed", stream.epoch, 3)


@pytest.mark.parametrize("offset", [4, 100])
async def test_read_after_an_offset_ahead(offset: int) -> None:
    stream = InMemoryStreamHub().for_user("u1")
    await _append(stream, 3)
    assert await stream.read_after(stream.epoch, offset) == Resync("offset_ahead", stream.epoch, 3)


async def test_read_after_a_negative_offset_is_a_resync() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    await _append(stream, 3)
    answer = await stream.read_after(stream.epoch, -1)
    assert isinstance(answer, Resync)
    assert (answer.epoch, answer.offset) == (stream.epoch, 3)


async def test_history_keeps_the_last_n_events_once_they_are_old(clock: Clock) -> None:
    hub = InMemoryStreamHub(history_events=3, history_seconds=60, history_cap=100)
    stream = hub.for_user("u1")
    await _append(stream, 5)
    # young events are all kept, even beyond the count
    assert len(await history(stream)) == 5
    clock.now += 61
    events = await _append(stream, 1)  # appending is when history is trimmed
    answer = await stream.read_after(stream.epoch, 3)
    assert isinstance(answer, Replay)
    assert [e.offset for e in answer.events] == [4, 5, 6]
    assert answer.events[-1] == events[0]
    assert await stream.read_after(stream.epoch, 2) == Resync("history_expired", stream.epoch, 6)
    assert await stream.read_after(stream.epoch, 0) == Resync("history_expired", stream.epoch, 6)


async def test_history_keeps_young_events_beyond_the_count(clock: Clock) -> None:
    hub = InMemoryStreamHub(history_events=2, history_seconds=10, history_cap=100)
    stream = hub.for_user("u1")
    await _append(stream, 2)
    clock.now += 11
    await _append(stream, 4)  # the two old ones go once more than 2 are kept; the young stay
    answer = await stream.read_after(stream.epoch, 2)
    assert isinstance(answer, Replay)
    assert [e.offset for e in answer.events] == [3, 4, 5, 6]
    assert isinstance(await stream.read_after(stream.epoch, 1), Resync)


async def test_history_has_a_hard_cap(clock: Clock) -> None:
    hub = InMemoryStreamHub(history_events=2, history_seconds=3600, history_cap=4)
    stream = hub.for_user("u1")
    await _append(stream, 10)
    answer = await stream.read_after(stream.epoch, 6)
    assert isinstance(answer, Replay)
    assert [e.offset for e in answer.events] == [7, 8, 9, 10]
    assert await stream.read_after(stream.epoch, 5) == Resync("history_expired", stream.epoch, 10)


def test_default_cap_is_ten_times_the_count() -> None:
    hub = InMemoryStreamHub(history_events=7)
    stream = hub.for_user("u1")
    assert stream._history.cap == 70  # the documented default, read where it is kept


async def test_fan_out_to_every_subscriber_of_the_user_only() -> None:
    hub = InMemoryStreamHub()
    mine = [await hub.for_user("u1").subscribe() for _ in range(3)]
    theirs = await hub.for_user("u2").subscribe()
    assert hub.for_user("u1").subscriber_count == 3
    sent = await _append(hub.for_user("u1"), 4)
    for subscription in mine:
        assert subscription.offset == 0
        received = await drain(subscription)
        assert received == sent
        assert all(a is b for a, b in zip(received, sent, strict=True))  # one object, one JSON
    assert theirs.pending() == 0


async def test_subscription_starts_after_the_newest_event() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    await _append(stream, 2)
    subscription = await stream.subscribe()
    assert subscription.offset == 2
    assert subscription.epoch == stream.epoch
    assert await stream.position() == (stream.epoch, 2)
    later = await _append(stream, 1)
    assert await drain(subscription) == later


async def test_get_waits_for_the_next_event() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe()
    waiting = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)  # let it block on an empty buffer (no event is due yet)
    assert not waiting.done()
    (event,) = await _append(stream, 1)
    assert await waiting is event


async def test_slow_subscriber_is_dropped_and_never_blocks_append() -> None:
    stream = InMemoryStreamHub(queue_limit=1000).for_user("u1")
    slow = await stream.subscribe(limit=3)
    fast = await stream.subscribe()
    events = await _append(stream, 10)  # returns although nobody reads the slow one
    assert slow.closed_reason == "too_slow"
    assert slow.pending() == 0
    assert stream.subscriber_count == 1
    with pytest.raises(SubscriptionClosedError) as caught:
        await slow.get()
    assert caught.value.reason == "too_slow"
    with pytest.raises(SubscriptionClosedError):
        await anext(slow)
    assert await drain(fast) == events


async def test_a_closed_subscription_receives_nothing_more() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe()
    subscription.close("replaced")
    subscription.deliver((await _append(stream, 1))[0])  # even if handed one directly
    assert subscription.pending() == 0
    with pytest.raises(SubscriptionClosedError, match="replaced"):
        await subscription.get()


async def test_queue_limit_comes_from_the_hub() -> None:
    stream = InMemoryStreamHub(queue_limit=2).for_user("u1")
    subscription = await stream.subscribe()
    await _append(stream, 2)
    assert subscription.closed_reason is None
    await _append(stream, 1)
    assert subscription.closed_reason == "too_slow"


async def test_a_waiting_reader_is_woken_when_dropped() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe(limit=1)
    reader = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)  # the reader waits on an empty buffer
    subscription.close("too_slow")
    with pytest.raises(SubscriptionClosedError, match="too_slow"):
        await reader


async def test_close_ends_iteration_after_delivered_events() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe()
    events = await _append(stream, 3)
    subscription.close()
    subscription.close()  # twice is harmless
    assert subscription.closed_reason == "closed"
    assert stream.subscriber_count == 0
    assert [e async for e in subscription] == events
    await _append(stream, 1)
    assert subscription.pending() == 0


async def test_close_wakes_a_waiting_iterator() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe()
    received: list[Event] = []

    async def read() -> None:
        async for event in subscription:
            received.append(event)
            if len(received) == 2:
                subscription.close()

    reader = asyncio.create_task(read())
    sent = await _append(stream, 2)
    await reader
    assert received == sent


async def test_unsubscribe_of_a_stranger_is_harmless() -> None:
    first = InMemoryStreamHub().for_user("u1")
    second = InMemoryStreamHub().for_user("u1")
    subscription = await second.subscribe()
    first.unsubscribe(subscription)
    assert second.subscriber_count == 1


async def test_idle_streams_without_subscribers_are_forgotten() -> None:
    hub = InMemoryStreamHub(idle_seconds=0.0)
    watched = hub.for_user("watched")
    subscription = await watched.subscribe()
    hub.for_user("idle")
    assert hub.forget_idle() == 1
    assert hub.stream_count == 1
    assert hub.for_user("watched") is watched
    fresh = hub.for_user("idle")
    assert fresh.latest_offset == 0
    subscription.close()


async def test_a_forgotten_stream_comes_back_with_a_new_epoch() -> None:
    hub = InMemoryStreamHub(idle_seconds=0.0)
    old = hub.for_user("u")
    await old.append("r", "t", "a", "ts", MessageDelta("x"))
    hub.forget_idle()
    new = hub.for_user("u")
    assert new is not old
    assert new.epoch != old.epoch
    resync = await new.read_after(old.epoch, 1)
    assert isinstance(resync, Resync)
    assert resync.reason == "epoch_changed"


def test_streams_in_use_are_kept() -> None:
    hub = InMemoryStreamHub()  # idle_seconds defaults to history_seconds (600)
    streams = [hub.for_user(f"u{i}") for i in range(InMemoryStreamHub._FIRST_SWEEP + 1)]
    assert hub.stream_count == len(streams)  # the sweep ran and kept every fresh stream
    assert all(hub.for_user(f"u{i}") is s for i, s in enumerate(streams))


def test_a_stream_handed_out_is_not_forgotten_before_its_first_event() -> None:
    hub = InMemoryStreamHub(idle_seconds=3600.0)
    held = hub.for_user("u")
    held._used -= 7200.0  # as if made two hours ago and never written to
    assert hub.for_user("u") is held  # handed out again: in use now
    assert hub.forget_idle() == 0
