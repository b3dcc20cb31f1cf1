"""A resume the stream's history no longer answers is replayed from the stored events."""

from __future__ import annotations

import pytest

from goldpath.events import AgentCompleted, AgentStarted, Event, MessageDelta, utc_timestamp
from goldpath.server._recorder import EventRecorder, RecordedStreams
from goldpath.server._replay import read_after
from goldpath.store import Store
from goldpath.stream import InMemoryStreamHub, Replay, Resync

pytestmark = pytest.mark.integration


async def test_stored_events_fill_what_the_history_dropped(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    thread_id = (await store.create_thread(ann)).thread_id
    hub = InMemoryStreamHub(history_events=2, history_seconds=1e-9)
    stream = hub.for_user(ann)
    recorder = EventRecorder(store)
    sink = RecordedStreams(hub, recorder).for_user(ann)
    sent: list[Event] = []
    for run_id in ("run_1", "run_2"):
        await store.start_run(ann, thread_id, run_id, "supervisor", "hi")
        recorder.start(ann, run_id)
        for data in (AgentStarted("hi"), MessageDelta("a"), MessageDelta("b")):
            sent.append(await sink.append(run_id, thread_id, "supervisor", utc_timestamp(), data))
        taken = await recorder.take(run_id)
        await store.finish_run(ann, run_id, "ok", "ab", None, events=taken)
        done = AgentCompleted("ok", 1.0, text="ab")
        sent.append(await sink.append(run_id, thread_id, "supervisor", utc_timestamp(), done))
    await recorder.close()
    assert await stream.read_after(stream.epoch, 0) == Resync("history_expired", stream.epoch, 8)

    for offset in (0, 3, 5):
        answer = await read_after(stream, store, ann, stream.epoch, offset)
        assert isinstance(answer, Replay)
        assert answer.offset == 8
        assert [e.json for e in answer.events] == [e.json for e in sent[offset:]]
        assert [e.offset for e in answer.events] == list(range(offset + 1, 9))
    wrong_epoch = await read_after(stream, store, ann, "other", 0)
    assert wrong_epoch == Resync("epoch_changed", stream.epoch, 8)
    assert await read_after(stream, store, "usr_bob", stream.epoch, 0) == Resync(
        "history_expired", stream.epoch, 8
    )  # someone else's stored events are not theirs to replay


async def test_a_gap_in_the_stored_events_is_still_a_resync(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    thread_id = (await store.create_thread(ann)).thread_id
    hub = InMemoryStreamHub(history_events=1, history_seconds=1e-9)
    stream = hub.for_user(ann)
    recorder = EventRecorder(store)
    sink = RecordedStreams(hub, recorder).for_user(ann)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "hi")
    recorder.start(ann, "run_1")
    await sink.append("run_1", thread_id, "supervisor", utc_timestamp(), AgentStarted("hi"))
    # An event of no stored run (a legacy engine's, say): offset 2 is nowhere any more.
    await sink.append("run_x", thread_id, "supervisor", utc_timestamp(), AgentStarted("hi"))
    for text in ("a", "b"):
        await sink.append("run_1", thread_id, "supervisor", utc_timestamp(), MessageDelta(text))
    await recorder.close()
    answer = await read_after(stream, store, ann, stream.epoch, 0)
    assert answer == Resync("history_expired", stream.epoch, 4)
