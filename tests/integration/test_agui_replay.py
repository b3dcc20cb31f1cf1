"""Where a resumed AG-UI response finds a run's events: the store, then the stream's history.

The store is real (SQLite and PostgreSQL), the stream is the in-memory one; each test
puts a run's events where a server would have them at some moment of the run.
"""

from __future__ import annotations

from goldpath.context import new_id
from goldpath.engine import PausedRun
from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    ApprovalRequested,
    Event,
    EventData,
    MessageDelta,
)
from goldpath.server._agui_replay import ResumedRun, SourcedEvent, known_events, terminal_of
from goldpath.store import RunEventRecord, RunRecord, Store
from goldpath.stream import InMemoryStreamHub, InMemoryUserStream
from tests.agui import SseEvent, check_run, parse_sse

TS = "2026-12-04T18:00:00.000000Z"
STEPS: list[EventData] = [
    AgentStarted("hi"),
    MessageDelta("a"),
    MessageDelta("b"),
    AgentCompleted("ok", 1.0, text="ab"),
]


async def _run(store: Store) -> RunRecord:
    user = await store.create_user(f"u{new_id('x')[-8:]}", "hash")
    thread = await store.create_thread(user.user_id)
    run, _ = await store.start_run(user.user_id, thread.thread_id, new_id("run"), "agent", "hi")
    return run


async def _send(stream: InMemoryUserStream, run: RunRecord, steps: list[EventData]) -> list[Event]:
    return [await stream.append(run.run_id, run.thread_id, run.agent, TS, data) for data in steps]


def _records(events: list[Event], epoch: str, first_seq: int = 1) -> list[RunEventRecord]:
    return [RunEventRecord(first_seq + n, epoch, e.offset, e.json) for n, e in enumerate(events)]


def _types(known: list[SourcedEvent]) -> list[str]:
    return [s.event.type for s in known]


async def test_a_finished_run_comes_from_the_store(store: Store) -> None:
    run = await _run(store)
    old = InMemoryStreamHub().for_user(run.owner_id)
    sent = await _send(old, run, STEPS)
    await store.append_run_events(run.owner_id, run.run_id, _records(sent, "old-epoch"))
    fresh = InMemoryStreamHub().for_user(run.owner_id)  # the history was lost since
    known = await known_events(store, fresh, fresh.epoch, run.owner_id, run, 1000)
    assert known.complete
    assert [(s.epoch, s.event.json) for s in known.events] == [("old-epoch", e.json) for e in sent]


async def test_a_run_in_flight_joins_the_store_and_the_stream(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    sent = await _send(stream, run, STEPS[:3])
    await store.append_run_events(run.owner_id, run.run_id, _records(sent[:2], stream.epoch))
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 1000)
    assert known.complete
    assert [s.event.offset for s in known.events] == [e.offset for e in sent]


async def test_a_young_run_is_found_in_the_newest_events(store: Store) -> None:
    run = await _run(store)
    hub = InMemoryStreamHub(history_events=3, history_seconds=0)
    stream = hub.for_user(run.owner_id)
    other = await _run(store)
    await _send(stream, other, [MessageDelta("x")] * 5)  # older events, mostly dropped
    sent = await _send(stream, run, STEPS[:2])
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 3)
    assert known.complete
    assert [s.event.offset for s in known.events] == [e.offset for e in sent]
    # A run whose first events left the window cannot be told whole.
    await _send(stream, other, [MessageDelta("y")] * 2)
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 1)
    assert not known.complete


async def test_what_cannot_be_found_is_incomplete(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    sent = await _send(stream, run, STEPS[:3])
    # stored in another epoch, and the stream since then holds nothing after them
    await store.append_run_events(run.owner_id, run.run_id, _records(sent[:1], "gone"))
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 1000)
    assert not known.complete
    assert _types(known.events) == ["agent_started"]


async def test_a_gap_in_the_stored_events_is_incomplete(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    sent = await _send(stream, run, STEPS)
    records = _records(sent, stream.epoch)
    await store.append_run_events(run.owner_id, run.run_id, [records[0]])
    await store.append_run_events(run.owner_id, run.run_id, records[2:])
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 1000)
    assert not known.complete


async def test_a_stream_that_lost_its_history_is_incomplete(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    await _send(stream, run, STEPS[:2])
    known = await known_events(store, stream, "an-old-epoch", run.owner_id, run, 1000)
    assert not known.complete


async def test_a_finished_run_with_no_known_events_is_incomplete(store: Store) -> None:
    run = await _run(store)
    finished = await store.finish_run(run.owner_id, run.run_id, "error", None, "it broke")
    stream = InMemoryStreamHub().for_user(run.owner_id)
    known = await known_events(store, stream, stream.epoch, run.owner_id, finished, 1000)
    assert not known.complete
    assert known.events == []
    terminal = terminal_of(finished, stream.epoch)
    assert terminal.event.data == AgentCompleted("error", 0.0, error="it broke")
    assert terminal.event.ts.endswith("Z")


async def test_a_run_with_no_known_events_is_incomplete(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    known = await known_events(store, stream, stream.epoch, run.owner_id, run, 1000)
    assert not known.complete
    assert known.events == []


async def _body(resumed: ResumedRun, position: tuple[str, int] | None = None) -> list[SseEvent]:
    return parse_sse("".join([chunk async for chunk in resumed.events(position)]))


async def test_a_resumed_response_whose_stream_fails_ends_with_run_error(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    sent = await _send(stream, run, STEPS[:2])
    subscription = await stream.subscribe()
    resumed = ResumedRun(store, stream, subscription, run.owner_id, run, ("t", "r"), window=100)
    body = resumed.events(None)
    chunks = [await anext(body), await anext(body), await anext(body)]  # the two replayed
    subscription.close("too_slow")
    chunks += [chunk async for chunk in body]
    events = parse_sse("".join(chunks))
    assert [e.type for e in events] == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "RUN_ERROR",
    ]
    assert events[-1].id == events[-2].id == f"{stream.epoch}:3"
    assert events[-1].data["code"] == "stream_interrupted"
    assert len(sent) == 2


async def test_a_run_whose_process_died_ends_with_its_stored_status(store: Store) -> None:
    """No event of the run is known and none will come: the store's status ends it."""
    run = await _run(store)
    await store.finish_run(run.owner_id, run.run_id, "error", None, "the server died")
    stream = InMemoryStreamHub().for_user(run.owner_id)
    subscription = await stream.subscribe()
    resumed = ResumedRun(
        store, stream, subscription, run.owner_id, run, ("t", "r"), window=100, end_check=0.01
    )
    events = await _body(resumed, (stream.epoch, 4))
    assert [e.type for e in events] == ["MESSAGES_SNAPSHOT", "RUN_ERROR"]
    assert [e.id for e in events] == [f"{stream.epoch}:0", f"{stream.epoch}:1"]
    assert events[1].data["message"] == "the server died"
    assert [m["content"] for m in events[0].data["messages"]] == ["hi"]
    check_run(events)
    assert subscription.closed_reason is not None


async def test_a_failure_while_reading_ends_the_response_with_run_error(store: Store) -> None:
    run = await _run(store)
    stream = InMemoryStreamHub().for_user(run.owner_id)
    subscription = await stream.subscribe()
    # The store refuses to read the run for anybody but its owner.
    resumed = ResumedRun(store, stream, subscription, "usr_other", run, ("t", "r"), window=100)
    events = await _body(resumed)
    assert [(e.id, e.type) for e in events] == [(f"{stream.epoch}:0", "RUN_ERROR")]
    assert events[0].data["message"].startswith("the stream failed on the server")


async def _waiting(store: Store) -> RunRecord:
    """A run stored as waiting for approval whose approval_requested was never sent."""
    run = await _run(store)
    paused = PausedRun(
        agent=run.agent,
        message="hi",
        history=(),
        turns=(),
        results=(),
        call_id="call_x",
        tool="delete_note",
        args={"title": "a"},
        elapsed_ms=1.0,
    )
    await store.pause_run(
        run.owner_id,
        run.run_id,
        call_id="call_x",
        state=paused.to_json(),
        waits_for=60.0,
        next_event_seq=1,
    )
    return await store.get_run(run.owner_id, run.run_id)


async def test_a_waiting_run_whose_request_was_lost_ends_at_its_stored_call(store: Store) -> None:
    run = await _waiting(store)
    assert run.status == "waiting"
    stream = InMemoryStreamHub().for_user(run.owner_id)
    subscription = await stream.subscribe()
    resumed = ResumedRun(store, stream, subscription, run.owner_id, run, ("t", "r"), window=100)
    events = await _body(resumed, (stream.epoch, 2))
    assert [e.type for e in events] == [
        "MESSAGES_SNAPSHOT",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    # What the store tells of the call is all it has: offsets 1 to 4 stand for the run.
    assert [e.offset for e in events] == [0, 1, 2, 3, 4]
    interrupt = events[-1].data["outcome"]["interrupts"][0]
    assert (interrupt["id"], interrupt["metadata"]) == (
        "call_x",
        {"tool": "delete_note", "args": {"title": "a"}},
    )
    assert subscription.closed_reason is not None


async def test_a_waiting_run_is_whole_in_the_store_after_a_restart(store: Store) -> None:
    """Its events were all stored as it paused: the stream's new epoch loses none of them."""
    run = await _run(store)
    old = InMemoryStreamHub().for_user(run.owner_id)
    asked = ApprovalRequested("call_x", "delete_note", {"title": "a"})
    sent = await _send(old, run, [AgentStarted("hi"), MessageDelta("a"), asked])
    await store.append_run_events(run.owner_id, run.run_id, _records(sent, "old-epoch"))
    await store.pause_run(
        run.owner_id, run.run_id, call_id="call_x", state="{}", waits_for=60.0, next_event_seq=4
    )
    waiting = await store.get_run(run.owner_id, run.run_id)
    fresh = InMemoryStreamHub().for_user(run.owner_id)  # the server restarted since
    known = await known_events(store, fresh, fresh.epoch, run.owner_id, waiting, 1000)
    assert known.complete
    assert _types(known.events) == ["agent_started", "message_delta", "approval_requested"]
    resumed = ResumedRun(
        store, fresh, await fresh.subscribe(), run.owner_id, waiting, ("t", "r"), window=100
    )
    events = await _body(resumed, ("old-epoch", 2))
    assert [e.type for e in events] == [
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    check_run(events, first=3)
