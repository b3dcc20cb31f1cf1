"""The Redis user stream against a real Redis: the in-memory backend's guarantees, across hubs.

Two hubs on one Redis stand for two processes. Every test uses a random key prefix and
deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from goldpath.errors import ConfigurationError, StreamError, SubscriptionClosedError
from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    Event,
    EventData,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
    frame_parts,
)
from goldpath.stream import InMemoryStreamHub, Replay, Resync, Subscription, UserStream
from goldpath.stream.redis import RedisStreamHub
from goldpath.stream.redis._scripts import UserKeys
from tests.services import REDIS_HOST, REDIS_PORT, require_service

pytestmark = pytest.mark.integration

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
TS = "2026-01-01T00:00:00.000000Z"
MakeHub = Callable[..., Awaitable[RedisStreamHub]]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"goldpath-test-{secrets.token_hex(6)}:"
    yield prefix
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def make_hub(prefix: str) -> AsyncIterator[MakeHub]:
    """Makes hubs ("processes") on the test's prefix; closes them afterwards."""
    made: list[RedisStreamHub] = []

    async def make(**options: Any) -> RedisStreamHub:
        hub = await RedisStreamHub.from_url(REDIS_URL, prefix=prefix, **options)
        made.append(hub)
        return hub

    yield make
    for hub in made:
        await hub.close()


@pytest.fixture
async def hub(make_hub: MakeHub) -> RedisStreamHub:
    return await make_hub()


async def _append(stream: UserStream, count: int, run_id: str = "run_1") -> list[Event]:
    return [
        await stream.append(run_id, "thr_1", "supervisor", TS, MessageDelta(f"d{i} "))
        for i in range(count)
    ]


async def _receive(subscription: Subscription, count: int) -> list[Event]:
    return [await asyncio.wait_for(subscription.get(), 5) for _ in range(count)]


async def test_offsets_are_gapless_from_one(hub: RedisStreamHub) -> None:
    stream = hub.for_user("u1")
    epoch, latest = await stream.position()
    assert (len(epoch), latest) == (32, 0)
    events = await _append(stream, 5)
    assert [e.offset for e in events] == [1, 2, 3, 4, 5]
    assert await stream.position() == (epoch, 5)
    answer = await stream.read_after(epoch, 0)
    assert answer == Replay(tuple(events), 5)


async def test_frames_are_the_in_memory_frames(hub: RedisStreamHub) -> None:
    data: list[EventData] = [
        AgentStarted('héllo "quoted" \n'),
        AgentThinking("thinking"),
        ToolExecuting("c1", "shout", {"text": "hi", "n": [1, 2]}),
        ToolCompleted("c1", "shout", True, 1.5, result={"x": "ü"}),
        ToolCompleted("c2", "shout", False, 2.0, error="boom"),
        MessageDelta("a delta"),
        AgentCompleted("ok", 12.25, text="done"),
    ]
    redis_stream, memory_stream = hub.for_user("u1"), InMemoryStreamHub().for_user("u1")
    for item in data:
        ours = await redis_stream.append("run_1", "thr_1", "supervisor", TS, item)
        theirs = await memory_stream.append("run_1", "thr_1", "supervisor", TS, item)
        assert ours.json == theirs.json
        assert replace(ours, epoch=theirs.epoch) == theirs
        assert ours.epoch == (await redis_stream.position())[0]
    epoch, _ = await redis_stream.position()
    replay = await redis_stream.read_after(epoch, 0)
    assert isinstance(replay, Replay)
    assert [e.json for e in replay.events] == [e.json for e in await _history(memory_stream)]


async def _history(stream: UserStream) -> tuple[Event, ...]:
    epoch, _ = await stream.position()
    answer = await stream.read_after(epoch, 0)
    assert isinstance(answer, Replay)
    return answer.events


async def test_read_after_answers_as_the_in_memory_stream(hub: RedisStreamHub) -> None:
    stream = hub.for_user("u1")
    events = await _append(stream, 6)
    epoch, _ = await stream.position()
    assert await stream.read_after(epoch, 4) == Replay(tuple(events[4:]), 6)
    assert await stream.read_after(epoch, 6) == Replay((), 6)
    assert await stream.read_after("another-epoch", 2) == Resync("epoch_changed", epoch, 6)
    assert await stream.read_after(epoch, 7) == Resync("offset_ahead", epoch, 6)
    assert await stream.read_after(epoch, -1) == Resync("offset_invalid", epoch, 6)


async def test_history_keeps_the_last_events_up_to_the_cap(make_hub: MakeHub) -> None:
    hub = await make_hub(history_events=3, history_cap=3)
    stream = hub.for_user("u1")
    events = await _append(stream, 6)
    epoch, _ = await stream.position()
    assert await stream.read_after(epoch, 3) == Replay(tuple(events[3:]), 6)
    assert await stream.read_after(epoch, 2) == Resync("history_expired", epoch, 6)
    assert await stream.read_after(epoch, 0) == Resync("history_expired", epoch, 6)


async def test_history_keeps_young_events_beyond_the_count(make_hub: MakeHub) -> None:
    young = await make_hub(history_events=3, history_seconds=600, history_cap=100)
    stream = young.for_user("young")
    events = await _append(stream, 10)
    epoch, _ = await stream.position()
    assert await stream.read_after(epoch, 0) == Replay(tuple(events), 10)

    old = await make_hub(history_events=3, history_seconds=0.001, history_cap=100, idle_seconds=60)
    stream = old.for_user("old")
    await _append(stream, 10)
    await asyncio.sleep(0.01)  # Redis's clock must pass the 1 ms window: time is the subject
    events = await _append(stream, 1)
    epoch, _ = await stream.position()
    answer = await stream.read_after(epoch, 8)
    assert isinstance(answer, Replay)
    assert [e.offset for e in answer.events] == [9, 10, 11]
    assert await stream.read_after(epoch, 7) == Resync("history_expired", epoch, 11)
    assert answer.events[-1] == events[0]


async def test_fan_out_to_every_subscriber_of_the_user_only(hub: RedisStreamHub) -> None:
    mine = [await hub.for_user("u1").subscribe() for _ in range(2)]
    theirs = await hub.for_user("u2").subscribe()
    assert {(s.offset, s.epoch) for s in mine} == {(0, (await hub.for_user("u1").position())[0])}
    sent = await _append(hub.for_user("u1"), 5)
    other = await _append(hub.for_user("u2"), 1)
    for subscription in mine:
        assert await _receive(subscription, 5) == sent
    assert await _receive(theirs, 1) == other
    assert theirs.pending() == 0
    assert hub.for_user("u1").subscriber_count == 2


async def test_a_subscriber_in_another_process_gets_every_event_in_order(
    make_hub: MakeHub,
) -> None:
    a, b = await make_hub(), await make_hub()
    await _append(a.for_user("u1"), 3)
    subscription = await b.for_user("u1").subscribe()
    assert subscription.offset == 3
    writers = [_append(a.for_user("u1"), 100, run_id=f"run_{i}") for i in range(2)]
    writers.append(_append(b.for_user("u1"), 100, run_id="run_b"))
    sent = [event for events in await asyncio.gather(*writers) for event in events]
    received = await _receive(subscription, 300)
    assert [e.offset for e in received] == list(range(4, 304))
    assert sorted(received, key=lambda e: e.offset) == sorted(sent, key=lambda e: e.offset)
    assert all(e.json == s.json for e, s in zip(received, sorted(sent, key=_offset), strict=True))


def _offset(event: Event) -> int:
    return event.offset


async def test_resume_on_another_process(make_hub: MakeHub) -> None:
    a, b = await make_hub(), await make_hub()
    first = await _append(a.for_user("u1"), 4)
    epoch, _ = await b.for_user("u1").position()
    later = await _append(a.for_user("u1"), 3)
    answer = await b.for_user("u1").read_after(epoch, first[-1].offset)
    assert answer == Replay(tuple(later), 7)


async def test_a_lost_history_is_a_new_epoch(make_hub: MakeHub, prefix: str) -> None:
    a, b = await make_hub(), await make_hub()
    await _append(a.for_user("u1"), 3)
    old_epoch, _ = await a.for_user("u1").position()
    watcher = await b.for_user("u1").subscribe()
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:  # what a flushed or restarted Redis leaves of this user: nothing
        await client.delete(*[key async for key in client.scan_iter(match=f"{prefix}user:u1:*")])
    finally:
        await client.aclose()
    (event,) = await _append(a.for_user("u1"), 1)
    assert event.offset == 1
    new_epoch, latest = await b.for_user("u1").position()
    assert (new_epoch != old_epoch, latest) == (True, 1)
    assert await b.for_user("u1").read_after(old_epoch, 3) == Resync("epoch_changed", new_epoch, 1)
    with pytest.raises(SubscriptionClosedError, match="epoch_changed"):
        await asyncio.wait_for(watcher.get(), 5)
    again = await b.for_user("u1").subscribe()
    assert (again.epoch, again.offset) == (new_epoch, 1)


async def test_a_slow_subscriber_is_dropped_and_never_blocks(make_hub: MakeHub) -> None:
    a, b = await make_hub(), await make_hub(queue_limit=1000)
    slow = await b.for_user("u1").subscribe(limit=3)
    fast = await b.for_user("u1").subscribe()
    sent = await _append(a.for_user("u1"), 10)  # returns although nobody reads
    assert await _receive(fast, 10) == sent
    assert slow.closed_reason == "too_slow"
    with pytest.raises(SubscriptionClosedError, match="too_slow"):
        await slow.get()
    assert b.for_user("u1").subscriber_count == 1


async def test_delivery_catches_up_after_the_pubsub_connection_drops(make_hub: MakeHub) -> None:
    a, b = await make_hub(), await make_hub()
    subscription = await b.for_user("u1").subscribe()
    first = await _append(a.for_user("u1"), 2)
    assert await _receive(subscription, 2) == first
    connection: Any = b.live._pubsub.connection  # the one pub/sub connection of hub b
    sockname = connection._writer.get_extra_info("sockname")
    admin: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        killed = await admin.client_kill_filter(addr=f"{sockname[0]}:{sockname[1]}")
        assert killed == 1
        missed = await _append(a.for_user("u1"), 5)  # published while b is not listening
    finally:
        await admin.aclose()
    # Nothing more is published: b must find the missed events by itself after reconnecting.
    assert await _receive(subscription, 5) == missed


def _frame(offset: int) -> str:
    head, tail = frame_parts("run_1", "thr_1", "supervisor", TS, MessageDelta(f"d{offset}"))
    return f"{head}{offset}{tail}"


@pytest.fixture
async def raw(prefix: str) -> AsyncIterator[Redis]:
    """A plain client, to do behind the hubs' backs what a lossy network or a bug would."""
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


async def test_a_lost_message_is_filled_in_from_the_stream(
    hub: RedisStreamHub, raw: Redis, prefix: str
) -> None:
    subscription = await hub.for_user("u1").subscribe()
    keys = UserKeys.of(prefix, "u1")
    await raw.hset(keys.meta, "offset", 2)
    for offset in (1, 2):
        await raw.xadd(keys.events, {"t": 0, "f": _frame(offset)}, id=f"0-{offset}")
    await raw.publish(keys.channel, f"{subscription.epoch} {_frame(2)}")  # 1 was lost
    assert [e.json for e in await _receive(subscription, 2)] == [_frame(1), _frame(2)]


async def test_a_gap_the_history_cannot_fill_drops_the_subscribers(
    hub: RedisStreamHub, raw: Redis, prefix: str
) -> None:
    subscription = await hub.for_user("u1").subscribe()
    keys = UserKeys.of(prefix, "u1")
    await raw.hset(keys.meta, "offset", 2)
    await raw.publish(keys.channel, f"{subscription.epoch} {_frame(2)}")
    with pytest.raises(SubscriptionClosedError, match="history_expired"):
        await asyncio.wait_for(subscription.get(), 5)


async def test_a_frame_that_is_no_event_is_skipped(
    hub: RedisStreamHub, raw: Redis, prefix: str
) -> None:
    subscription = await hub.for_user("u1").subscribe()
    await raw.publish(UserKeys.of(prefix, "u1").channel, f"{subscription.epoch} not json")
    sent = await _append(hub.for_user("u1"), 1)
    assert await _receive(subscription, 1) == sent


async def test_a_subscriber_that_gives_up_waiting_leaves_no_channel(hub: RedisStreamHub) -> None:
    waiting = asyncio.create_task(hub.for_user("gone").subscribe())
    await asyncio.sleep(0)  # it waits for Redis to confirm the channel
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await hub.for_user("stays").subscribe()  # confirmed after "gone"'s, in order
    assert hub.live.channel_count == 1


async def test_close_ends_subscribers_and_channels(make_hub: MakeHub) -> None:
    hub = await make_hub()
    stream = hub.for_user("u1")
    first = await stream.subscribe()
    second = await stream.subscribe()
    first.close()
    assert (stream.subscriber_count, hub.live.channel_count) == (1, 1)
    await hub.close()
    assert second.closed_reason == "closed"
    assert [e async for e in second] == []
    assert hub.live.channel_count == 0


async def test_every_key_expires_when_idle(make_hub: MakeHub, prefix: str) -> None:
    hub = await make_hub(idle_seconds=900)
    await _append(hub.for_user("writer"), 1)
    await hub.for_user("reader").read_after("unknown", 0)  # makes an epoch: expires too
    await hub.for_user("watcher").position()
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert len(keys) == 4  # writer's meta and events; reader's and watcher's meta
        for key in keys:
            assert 0 < await client.pttl(key) <= 900_000
    finally:
        await client.aclose()


async def test_a_subscribed_stream_does_not_expire(make_hub: MakeHub) -> None:
    hub = await make_hub(history_seconds=0.3, idle_seconds=0.3)
    watched = hub.for_user("watched")
    subscription = await watched.subscribe()
    await _append(watched, 1)
    await _append(hub.for_user("idle"), 1)
    await asyncio.sleep(0.7)  # over twice the expiry: time is the subject
    assert await watched.position() == (subscription.epoch, 1)
    assert (await hub.for_user("idle").position())[1] == 0  # expired: a new epoch


async def test_a_closed_hub_refuses_subscribers(make_hub: MakeHub) -> None:
    hub = await make_hub()
    await hub.close()
    with pytest.raises(StreamError, match="closed"):
        await hub.for_user("u1").subscribe()
    with pytest.raises(ValueError, match="at least 1"):
        await hub.for_user("u1").subscribe(limit=0)


async def test_an_unreachable_redis_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="GOLDPATH_REDIS_URL"):
        await RedisStreamHub.from_url("redis://:secret@127.0.0.1:1/0")
    with pytest.raises(ConfigurationError, match=r"\*\*\*") as caught:
        await RedisStreamHub.from_url("redis://:secret@127.0.0.1:1/0")
    assert "secret" not in str(caught.value)
