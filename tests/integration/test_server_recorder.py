"""The batching seam: every event of a run reaches the store in few writes, in order."""

from __future__ import annotations

import asyncio
import logging

import pytest

from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    ApprovalRequested,
    Event,
    EventData,
    EventSink,
    MessageDelta,
    utc_timestamp,
)
from goldpath.server._recorder import EventRecorder, RecordedStreams
from goldpath.store import RunEventRecord, Store
from goldpath.stream import InMemoryStreamHub

pytestmark = pytest.mark.integration


@pytest.fixture
async def ann(store: Store) -> tuple[str, str]:
    user = await store.create_user("ann", "hash")
    thread = await store.create_thread(user.user_id)
    return user.user_id, thread.thread_id


class Writes:
    """Counts the store's run-event writes (the real ones, passed through)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[list[str]] = []
        self.sizes: list[list[int]] = []
        original = store.append_run_event_batches

        async def counted(batches):  # type: ignore[no-untyped-def]
            self.batches.append([batch.run_id for batch in batches])
            self.sizes.append([len(batch.events) for batch in batches])
            await original(batches)

        monkeypatch.setattr(store, "append_run_event_batches", counted)


async def _run(sink: EventSink, run_id: str, thread_id: str, deltas: int) -> list[Event]:
    data: list[EventData] = [AgentStarted("hi"), *(MessageDelta(f"{i} ") for i in range(deltas))]
    return [await sink.append(run_id, thread_id, "supervisor", utc_timestamp(), d) for d in data]


def _as_stored(events: list[Event]) -> list[RunEventRecord]:
    return [RunEventRecord(i + 1, e.epoch, e.offset, e.json) for i, e in enumerate(events)]


async def _finish(
    store: Store, recorder: EventRecorder, sink: EventSink, user_id: str, run_id: str, thread: str
) -> Event:
    """What `RunService` does at a run's end: the rest with the status, then agent_completed."""
    await store.finish_run(user_id, run_id, "ok", "0 1", None, events=await recorder.take(run_id))
    completed = AgentCompleted("ok", 1.0, text="0 1")
    return await sink.append(run_id, thread, "supervisor", utc_timestamp(), completed)


async def test_a_short_run_is_stored_with_its_status_then_its_agent_completed(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, thread_id = ann
    writes = Writes(store, monkeypatch)
    hub = InMemoryStreamHub()
    recorder = EventRecorder(store, write_delay=0.01)
    sink = RecordedStreams(hub, recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 2)
    assert await store.list_run_events(user_id, "run_1") == []  # nothing written mid-run
    sent.append(await _finish(store, recorder, sink, user_id, "run_1", thread_id))
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent[:-1])
    await recorder.settle("run_1")
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    assert writes.batches == [["run_1"]]  # the only write besides finish_run
    assert {e.epoch for e in sent} == {hub.for_user(user_id).epoch}
    await recorder.close()


async def test_agent_completed_rows_of_runs_ending_together_share_one_write(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, thread_id = ann
    writes = Writes(store, monkeypatch)
    recorder = EventRecorder(store, write_delay=60.0)  # close() writes what is queued
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    run_ids = [f"run_{i}" for i in range(5)]
    for run_id in run_ids:
        await store.start_run(user_id, thread_id, run_id, "supervisor", "hi")
        recorder.start(user_id, run_id)
        await _run(sink, run_id, thread_id, 1)
    await asyncio.gather(
        *(_finish(store, recorder, sink, user_id, run_id, thread_id) for run_id in run_ids)
    )
    await recorder.close()
    assert [sorted(batch) for batch in writes.batches] == [run_ids]
    for run_id in run_ids:
        stored = await store.list_run_events(user_id, run_id)
        assert [e.seq for e in stored] == [1, 2, 3]
        assert '"type":"agent_completed"' in stored[-1].frame


async def test_approval_requested_is_stored_at_once_not_after_the_write_delay(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paused run may wait for hours on its approval_requested: a node lost within the
    group-commit delay must not take the only stored copy of it along."""
    user_id, thread_id = ann
    written = asyncio.Event()
    original = store.append_run_event_batches

    async def noted(batches):  # type: ignore[no-untyped-def]
        await original(batches)
        written.set()

    monkeypatch.setattr(store, "append_run_event_batches", noted)
    recorder = EventRecorder(store, write_delay=60.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 1)
    events, next_seq = await recorder.pausing("run_1")  # what RunService._pause does
    await store.pause_run(
        user_id,
        "run_1",
        call_id="c1",
        state="{}",
        waits_for=60,
        next_event_seq=next_seq,
        events=events,
    )
    asked = ApprovalRequested("c1", "delete_note", {"title": "x"})
    sent.append(await sink.append("run_1", thread_id, "supervisor", utc_timestamp(), asked))
    await asyncio.wait_for(written.wait(), 5.0)  # not the 60 s group-commit delay
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    assert next_seq == len(sent) + 1
    await recorder.close()


async def test_a_long_run_is_flushed_in_bounded_batches_and_read_in_order(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, thread_id = ann
    writes = Writes(store, monkeypatch)
    recorder = EventRecorder(store, batch_events=10, write_delay=60.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    for run_id in ("run_long", "run_ended"):
        await store.start_run(user_id, thread_id, run_id, "supervisor", "hi")
        recorder.start(user_id, run_id)
    long = await _run(sink, "run_long", thread_id, 34)  # 35 events, still running
    ended = await _run(sink, "run_ended", thread_id, 24)  # 25 events, then it ends
    # The ending run's queued batches go with its status, in order, not on their own.
    ended.append(await _finish(store, recorder, sink, user_id, "run_ended", thread_id))
    assert await store.list_run_events(user_id, "run_ended") == _as_stored(ended[:-1])
    await recorder.close()
    # One write: the long run's full batches, the ended run's agent_completed, then what
    # the long run had left when the recorder closed.
    assert writes.batches == [["run_long"] * 3 + ["run_ended", "run_long"]]
    assert writes.sizes == [[10, 10, 10, 1, 5]]
    assert await store.list_run_events(user_id, "run_long") == _as_stored(long)
    assert await store.list_run_events(user_id, "run_ended") == _as_stored(ended)


async def test_an_old_batch_is_flushed_by_age(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, thread_id = ann
    recorder = EventRecorder(store, batch_seconds=0.0, write_delay=0.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 2)
    await recorder.settle("run_1")
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    await recorder.close()


async def test_settle_stores_a_running_runs_events_so_far(
    store: Store, ann: tuple[str, str]
) -> None:
    user_id, thread_id = ann
    recorder = EventRecorder(store, write_delay=60.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 3)
    await recorder.settle("run_1")
    await recorder.settle("run_unknown")
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    sent += await _run(sink, "run_1", thread_id, 1)
    await recorder.settle("run_1")
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    await recorder.close()


async def test_finishing_waits_for_a_batch_being_written(
    store: Store, ann: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, thread_id = ann
    gate, entered = asyncio.Event(), asyncio.Event()
    original = store.append_run_event_batches

    async def slow(batches):  # type: ignore[no-untyped-def]
        entered.set()
        await gate.wait()
        await original(batches)

    monkeypatch.setattr(store, "append_run_event_batches", slow)
    recorder = EventRecorder(store, batch_events=2, write_delay=0.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 2)  # a batch of 2 goes to the writer
    await entered.wait()
    finishing = asyncio.create_task(_finish(store, recorder, sink, user_id, "run_1", thread_id))
    await asyncio.sleep(0.01)
    assert not finishing.done()  # its first batch is not in the store yet
    gate.set()
    sent.append(await finishing)
    await recorder.close()
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)


async def test_a_run_that_never_finished_is_stored_at_close_and_others_are_not_recorded(
    store: Store, ann: tuple[str, str]
) -> None:
    user_id, thread_id = ann
    recorder = EventRecorder(store, write_delay=60.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    await store.start_run(user_id, thread_id, "run_2", "supervisor", "hi")
    recorder.start(user_id, "run_1")
    sent = await _run(sink, "run_1", thread_id, 1)
    await _run(sink, "run_2", thread_id, 1)  # not started with the recorder: a legacy engine's
    await recorder.close()
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    assert await store.list_run_events(user_id, "run_2") == []
    assert await recorder.take("run_1") == []


async def test_a_batch_that_cannot_be_stored_costs_the_others_nothing(
    store: Store, ann: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    user_id, thread_id = ann
    recorder = EventRecorder(store, write_delay=60.0)
    sink = RecordedStreams(InMemoryStreamHub(), recorder).for_user(user_id)
    await store.start_run(user_id, thread_id, "run_1", "supervisor", "hi")
    for run_id in ("run_1", "run_gone"):
        recorder.start(user_id, run_id)
    sent = await _run(sink, "run_1", thread_id, 1)
    await _run(sink, "run_gone", thread_id, 1)  # no such run in the store
    with caplog.at_level(logging.ERROR, logger="goldpath.server.recorder"):
        await recorder.close()
    assert await store.list_run_events(user_id, "run_1") == _as_stored(sent)
    lost = [r for r in caplog.records if "could not store 2 events" in r.getMessage()]
    assert [getattr(r, "run_id", None) for r in lost] == ["run_gone"]
