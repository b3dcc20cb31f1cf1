"""`SseStream`: ready, live events, keep-alives, and a slow reader's one resync."""

from __future__ import annotations

import json
from typing import cast

import pytest

import goldpath.server._sse as sse_module
from goldpath.events import MessageDelta
from goldpath.server._errors import ApiError
from goldpath.server._sse import SseStream, parse_event_id
from goldpath.store import Store
from goldpath.stream import InMemoryStreamHub

pytestmark = pytest.mark.unit

TS = "2026-12-04T00:00:00.000000Z"


def _fields(chunk: str) -> dict[str, str]:
    assert chunk.endswith("\n\n")
    return dict(line.split(": ", 1) for line in chunk.strip("\n").split("\n"))


async def test_a_reader_that_falls_behind_gets_one_resync_then_live_events() -> None:
    hub = InMemoryStreamHub(queue_limit=3)
    stream = hub.for_user("u1")
    released = []
    sse = SseStream(stream, cast(Store, object()), "u1", await stream.subscribe())
    frames = sse.frames(None, release=lambda: released.append(True))
    ready = _fields(await anext(frames))
    assert (ready["event"], ready["id"]) == ("ready", f"{stream.epoch}:0")
    for i in range(5):  # the reader reads nothing meanwhile: its subscription overflows
        await stream.append("r1", "t1", "a", TS, MessageDelta(str(i)))
    resync = _fields(await anext(frames))
    assert resync["event"] == "resync"
    assert json.loads(resync["data"]) == {
        "type": "resync",
        "reason": "too_slow",
        "epoch": stream.epoch,
        "offset": 5,
    }
    assert resync["id"] == f"{stream.epoch}:5"
    await stream.append("r1", "t1", "a", TS, MessageDelta("5"))
    live = _fields(await anext(frames))
    assert (live["id"], live["event"]) == (f"{stream.epoch}:6", "message_delta")
    assert json.loads(live["data"])["offset"] == 6
    await frames.aclose()
    assert released == [True]
    assert stream.subscriber_count == 0


async def test_a_quiet_stream_sends_keep_alive_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse_module, "KEEP_ALIVE_SECONDS", 0.01)
    stream = InMemoryStreamHub().for_user("u1")
    frames = SseStream(stream, cast(Store, object()), "u1", await stream.subscribe()).frames(None)
    await anext(frames)
    assert await anext(frames) == ": keep-alive\n\n"
    await frames.aclose()


async def test_a_closed_subscription_ends_the_response() -> None:
    stream = InMemoryStreamHub().for_user("u1")
    subscription = await stream.subscribe()
    frames = SseStream(stream, cast(Store, object()), "u1", subscription).frames(None)
    await anext(frames)
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await anext(frames)


@pytest.mark.parametrize(
    ("value", "position"), [(None, None), ("e1:7", ("e1", 7)), (" a:b:-1 ", ("a:b", -1))]
)
def test_event_ids_are_epoch_and_offset(value: str | None, position: object) -> None:
    assert parse_event_id(value) == position


@pytest.mark.parametrize("value", ["", "7", "e:", ":7", "e:x", "e:1.5", "e:٣"])
def test_other_event_ids_are_bad_requests(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_event_id(value)
    assert (refused.value.problem.status, refused.value.problem.code) == (422, "bad_request")
