"""The store on every backend: owner scoping, order, transactions, migrations, concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from goldpath.errors import (
    ConflictError,
    NotFoundError,
    RunFinishedError,
    SchemaVersionError,
    StoreError,
)
from goldpath.store import (
    DEFAULT_TITLE,
    MessageRecord,
    RunEventBatch,
    RunEventRecord,
    RunLease,
    Store,
)
from goldpath.store._engine import normalise_url
from goldpath.store._migrate import alembic_config
from goldpath.store._schema import metadata

pytestmark = pytest.mark.integration

R = TypeVar("R")

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


class FrozenClock:
    """A clock the test moves by hand, to make equal and ordered timestamps on purpose."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _user_and_thread(store: Store, name: str = "ann") -> tuple[str, str]:
    user = await store.create_user(name, "hash")
    thread = await store.create_thread(user.user_id)
    return user.user_id, thread.thread_id


# users


async def test_users_are_unique_regardless_of_case(store: Store) -> None:
    ann = await store.create_user("Ann", "hash-1")
    assert ann.user_id.startswith("usr_")
    with pytest.raises(ConflictError, match="username 'ann' is taken"):
        await store.create_user("ann", "hash-2")
    assert await store.get_user_by_username("ANN") == ann
    assert await store.get_user(ann.user_id) == ann
    assert await store.get_user("usr_missing") is None
    assert await store.get_user_by_username("bob") is None


async def test_a_thread_needs_an_existing_owner(store: Store) -> None:
    with pytest.raises(NotFoundError, match="user 'usr_missing' not found"):
        await store.create_thread("usr_missing")


# owner scoping


async def test_another_owners_thread_is_reported_like_a_missing_one(store: Store) -> None:
    _, thread_id = await _user_and_thread(store, "ann")
    bob = (await store.create_user("bob", "hash")).user_id
    attempts: list[Callable[[str], Awaitable[object]]] = [
        lambda tid: store.get_thread(bob, tid),
        lambda tid: store.list_messages(bob, tid),
        lambda tid: store.add_message(bob, tid, "user", "hi"),
        lambda tid: store.start_run(bob, tid, f"run_{tid}", "supervisor", "hi"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError) as theirs:
            await attempt(thread_id)
        with pytest.raises(NotFoundError) as missing:
            await attempt("thr_missing")
        assert str(theirs.value).replace(thread_id, "ID") == str(missing.value).replace(
            "thr_missing", "ID"
        )
    assert await store.list_threads(bob) == []


async def test_another_owners_run_is_reported_like_a_missing_one(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store, "ann")
    bob = (await store.create_user("bob", "hash")).user_id
    run, _ = await store.start_run(ann, thread_id, "run_ann", "supervisor", "hi")
    for owner, run_id in ((bob, "run_ann"), (ann, "run_missing")):
        with pytest.raises(NotFoundError, match=f"run '{run_id}' not found; check the run id"):
            await store.get_run(owner, run_id)
        with pytest.raises(NotFoundError, match=f"run '{run_id}' not found; check the run id"):
            await store.finish_run(owner, run_id, "ok", "stolen", None)
    assert await store.get_run(ann, "run_ann") == run
    assert [m.role for m in await store.list_messages(ann, thread_id)] == ["user"]


# order


async def test_threads_newest_first_with_ties_by_thread_id(database_url: str) -> None:
    clock = FrozenClock()
    store = await Store.open(database_url, clock=clock)
    try:
        ann = (await store.create_user("ann", "hash")).user_id
        tied = [(await store.create_thread(ann, f"t{i}")).thread_id for i in range(3)]
        clock.now += timedelta(microseconds=1)
        newest = (await store.create_thread(ann)).thread_id
        listed = [t.thread_id for t in await store.list_threads(ann)]
        assert listed == [newest, *sorted(tied, reverse=True)]
        assert len(await store.list_threads(ann, limit=2)) == 2

        clock.now += timedelta(microseconds=1)
        await store.add_message(ann, tied[0], "user", "bump")
        assert (await store.list_threads(ann))[0].thread_id == tied[0]
    finally:
        await store.close()


async def test_messages_oldest_first_keeping_insert_order_on_equal_times(
    database_url: str,
) -> None:
    clock = FrozenClock()
    store = await Store.open(database_url, clock=clock)
    try:
        ann, thread_id = await _user_and_thread(store)
        saved = [await store.add_message(ann, thread_id, "user", f"m{i}") for i in range(5)]
        clock.now += timedelta(seconds=1)
        saved.append(await store.add_message(ann, thread_id, "assistant", "later"))
        assert await store.list_messages(ann, thread_id) == saved
    finally:
        await store.close()


# runs


async def test_start_run_saves_the_run_and_the_message_and_titles_the_thread(
    store: Store,
) -> None:
    ann, thread_id = await _user_and_thread(store)
    long_message = "  Plan   a trip\nto Lisbon " + "with many stops " * 10
    run, message = await store.start_run(ann, thread_id, "run_1", "supervisor", long_message)
    assert (run.status, run.agent, run.finished_at, run.owner_id) == (
        "running",
        "supervisor",
        None,
        ann,
    )
    assert (message.role, message.text, message.run_id) == ("user", long_message, "run_1")
    assert await store.get_run(ann, "run_1") == run
    assert await store.list_messages(ann, thread_id) == [message]

    thread = await store.get_thread(ann, thread_id)
    assert thread.title.startswith("Plan a trip to Lisbon with many stops")
    assert len(thread.title) <= 60
    assert thread.title.endswith("…")
    assert thread.updated_at == message.created_at

    await store.start_run(ann, thread_id, "run_2", "supervisor", "second message")
    assert (await store.get_thread(ann, thread_id)).title == thread.title


async def test_start_run_keeps_a_chosen_title(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    thread = await store.create_thread(ann, "Taxes")
    await store.start_run(ann, thread.thread_id, "run_1", "supervisor", "hello")
    assert (await store.get_thread(ann, thread.thread_id)).title == "Taxes"
    untitled = await store.create_thread(ann)
    assert untitled.title == DEFAULT_TITLE
    await store.start_run(ann, untitled.thread_id, "run_2", "supervisor", "   ")
    assert (await store.get_thread(ann, untitled.thread_id)).title == DEFAULT_TITLE


async def test_start_run_is_one_transaction(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "first")
    with pytest.raises(ConflictError, match="run 'run_1' exists already"):
        await store.start_run(ann, thread_id, "run_1", "supervisor", "second")
    assert [m.text for m in await store.list_messages(ann, thread_id)] == ["first"]


async def test_start_chat_makes_the_thread_or_reads_its_recent_history(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    run, message, earlier = await store.start_chat(
        ann, "thr_new", "run_1", "supervisor", "  Plan a\ntrip ", new_thread=True, history=2
    )
    assert (run.thread_id, message.thread_id, earlier) == ("thr_new", "thr_new", [])
    thread = await store.get_thread(ann, "thr_new")
    assert (thread.title, thread.created_at) == ("Plan a trip", run.created_at)
    await store.finish_run(ann, "run_1", "ok", "answer 1", None)
    await store.start_run(ann, "thr_new", "run_2", "supervisor", "second")
    _, _, earlier = await store.start_chat(
        ann, "thr_new", "run_3", "supervisor", "third", history=2
    )
    assert [(m.role, m.text) for m in earlier] == [("assistant", "answer 1"), ("user", "second")]
    with pytest.raises(NotFoundError, match="thread 'thr_new' not found"):
        await store.start_chat(bob, "thr_new", "run_4", "supervisor", "mine?", history=2)
    with pytest.raises(NotFoundError, match="user 'usr_gone' not found"):
        await store.start_chat("usr_gone", "thr_x", "run_5", "supervisor", "hi", new_thread=True)
    assert [r.run_id for r in [await store.get_run(ann, "run_3")]] == ["run_3"]


async def test_finish_run_keeps_the_usage_the_model_reported(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_2", "supervisor", "q")
    counted = await store.finish_run(
        ann, "run_1", "ok", "a", None, input_tokens=1200, output_tokens=34
    )
    assert (counted.input_tokens, counted.output_tokens) == (1200, 34)
    assert await store.get_run(ann, "run_1") == counted
    uncounted = await store.finish_run(ann, "run_2", "ok", "b", None)
    assert (uncounted.input_tokens, uncounted.output_tokens) == (None, None)


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [("ok", "the answer", None), ("cancelled", "a partial ans", None), ("error", None, "boom")],
)
async def test_finish_run_saves_status_and_answer(
    store: Store, status: str, text: str | None, error: str | None
) -> None:
    ann, thread_id = await _user_and_thread(store)
    run, question = await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    finished = await store.finish_run(ann, "run_1", status, text, error)  # type: ignore[arg-type]
    assert (finished.status, finished.result_text, finished.error) == (status, text, error)
    assert finished.finished_at is not None
    assert finished.finished_at >= run.created_at
    assert await store.get_run(ann, "run_1") == finished

    saved = await store.list_messages(ann, thread_id)
    expected: list[MessageRecord] = [question]
    if text is not None:
        answer = saved[-1]
        assert (answer.role, answer.text, answer.run_id) == ("assistant", text, "run_1")
        assert answer.created_at == finished.finished_at
        expected.append(answer)
    assert saved == expected


async def test_finishing_twice_is_a_conflict_and_changes_nothing(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    first = await store.finish_run(ann, "run_1", "ok", "answer", None)
    with pytest.raises(ConflictError, match="run 'run_1' already finished with status 'ok'"):
        await store.finish_run(ann, "run_1", "error", "other", "late")
    assert await store.get_run(ann, "run_1") == first
    assert len(await store.list_messages(ann, thread_id)) == 2


async def test_concurrent_finishers_have_one_winner(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    results = await asyncio.gather(
        *(store.finish_run(ann, "run_1", "ok", f"answer {i}", None) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
    assert len(await store.list_messages(ann, thread_id)) == 2


async def test_a_sweep_ends_only_the_runs_whose_lease_ran_out(database_url: str) -> None:
    clock = FrozenClock()
    store = await Store.open(database_url, clock=clock)
    try:
        ann, thread_id = await _user_and_thread(store)
        alive, dead = RunLease("node_alive", 10), RunLease("node_dead", 10)
        await store.start_chat(ann, thread_id, "run_alive", "supervisor", "q", lease=alive)
        await store.start_chat(ann, thread_id, "run_dead", "supervisor", "q", lease=dead)
        await store.start_run(ann, thread_id, "run_legacy", "supervisor", "q")  # no lease
        await store.start_chat(ann, thread_id, "run_done", "supervisor", "q", lease=dead)
        done = await store.finish_run(ann, "run_done", "ok", "a", None)
        assert (await store.get_run(ann, "run_dead")).node_id == "node_dead"

        assert [r.run_id for r in await store.finish_lost_runs("gone")] == ["run_legacy"]
        clock.now += timedelta(seconds=8)
        assert await store.renew_leases(alive) == {"run_alive"}  # the heartbeat
        clock.now += timedelta(seconds=8)  # dead's lease ran out 6 s ago, alive's holds
        ended = await store.finish_lost_runs("interrupted")
        assert [(r.run_id, r.status, r.error, r.node_id) for r in ended] == [
            ("run_dead", "error", "interrupted", "node_dead")
        ]
        assert ended[0].finished_at == clock.now
        assert await store.finish_lost_runs("interrupted") == []
        assert await store.get_run(ann, "run_done") == done
        assert await store.renew_leases(dead) == set()  # a late node learns it lost them
        with pytest.raises(RunFinishedError, match="already finished with status 'error'"):
            await store.finish_run(ann, "run_dead", "ok", "late answer", None)
        everything = await store.finish_lost_runs("restarted", every=True)
        assert [r.run_id for r in everything] == ["run_alive"]
    finally:
        await store.close()


async def test_a_sweep_and_the_node_racing_have_one_winner(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    lease = RunLease("node_a", 0.000001)
    for i in range(5):
        await store.start_chat(ann, thread_id, f"run_{i}", "supervisor", "q", lease=lease)
    results = await asyncio.gather(
        store.finish_lost_runs("interrupted"),
        *(store.finish_run(ann, f"run_{i}", "ok", "a", None) for i in range(5)),
        return_exceptions=True,
    )
    swept = results[0]
    assert isinstance(swept, list)
    finished = [r for r in results[1:] if not isinstance(r, BaseException)]
    assert len(swept) + len(finished) == 5
    assert all(isinstance(r, RunFinishedError) for r in results[1:] if isinstance(r, BaseException))


# run events


def _events(epoch: str, first_seq: int, offsets: range) -> list[RunEventRecord]:
    return [
        RunEventRecord(first_seq + i, epoch, offset, f'{{"type":"x","offset":{offset}}}')
        for i, offset in enumerate(offsets)
    ]


async def test_run_events_are_stored_in_batches_and_read_in_pages(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_2", "supervisor", "q")
    first, second = _events("e1", 1, range(3, 6)), _events("e1", 4, range(7, 9))
    await store.append_run_events(ann, "run_1", first)
    await store.append_run_events(ann, "run_2", _events("e1", 1, range(6, 7)))
    await store.append_run_events(ann, "run_1", second)
    last = _events("e1", 6, range(10, 11))
    await store.finish_run(ann, "run_1", "ok", "answer", None, events=last)

    assert await store.list_run_events(ann, "run_1") == first + second + last
    assert await store.list_run_events(ann, "run_1", after=4, limit=2) == [first[2], second[0]]
    assert await store.list_run_events(ann, "run_1", after=10) == []
    assert await store.list_run_events(ann, "run_2") == _events("e1", 1, range(6, 7))
    with pytest.raises(ConflictError, match="events of run 'run_1' were stored before"):
        await store.append_run_events(ann, "run_1", last)


async def test_a_survivors_last_event_follows_the_runs_stored_ones(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_2", "supervisor", "q")
    await store.append_run_events(ann, "run_1", _events("e1", 1, range(3, 6)))
    await store.append_run_events(ann, "run_1", _events("e1", 4, range(8, 10)))
    await store.append_last_run_event(ann, "run_1", "e1", 14, '{"type":"agent_completed"}')
    await store.append_last_run_event(ann, "run_2", "e1", 15, '{"type":"agent_completed"}')
    stored = await store.list_run_events(ann, "run_1")
    assert [(e.seq, e.offset) for e in stored] == [(1, 3), (2, 4), (3, 5), (4, 8), (5, 9), (6, 14)]
    assert [(e.seq, e.offset) for e in await store.list_run_events(ann, "run_2")] == [(1, 15)]
    with pytest.raises(NotFoundError):
        await store.append_last_run_event("someone_else", "run_1", "e1", 16, "{}")


async def test_a_stream_span_is_read_by_offset_across_runs_of_one_epoch(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    bob, bobs_thread = await _user_and_thread(store, "bob")
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_2", "supervisor", "q")
    await store.start_run(bob, bobs_thread, "run_3", "supervisor", "q")
    await store.append_run_events(ann, "run_1", _events("e1", 1, range(1, 3)))
    await store.append_run_events(ann, "run_2", _events("e1", 1, range(3, 5)))
    await store.append_run_events(ann, "run_1", _events("e2", 3, range(1, 3)))
    await store.append_run_events(bob, "run_3", _events("e1", 1, range(5, 7)))

    span = await store.list_stream_events(ann, "e1", after=1)
    assert [(e.epoch, e.offset) for e in span] == [("e1", 2), ("e1", 3), ("e1", 4)]
    assert len(await store.list_stream_events(ann, "e1", after=0, limit=3)) == 3
    assert [e.offset for e in await store.list_stream_events(ann, "e2", after=0)] == [1, 2]
    assert await store.list_stream_events(bob, "e2", after=0) == []


async def test_run_events_belong_to_the_runs_owner_and_go_with_the_thread(
    store: Store, database_url: str
) -> None:
    ann, thread_id = await _user_and_thread(store)
    bob = (await store.create_user("bob", "hash")).user_id
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.append_run_events(ann, "run_1", _events("e1", 1, range(1, 3)))
    for attempt in (
        store.list_run_events(bob, "run_1"),
        store.append_run_events(bob, "run_1", _events("e1", 3, range(3, 4))),
        store.list_run_events(ann, "run_missing"),
    ):
        with pytest.raises(NotFoundError, match="not found; check the run id"):
            await attempt
    assert len(await store.list_run_events(ann, "run_1")) == 2

    def delete_the_thread(conn: Connection) -> int:
        if conn.dialect.name == "sqlite":  # first, so before the driver's implicit BEGIN
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.execute(text("DELETE FROM threads WHERE thread_id = :t"), {"t": thread_id})
        return int(conn.execute(text("SELECT count(*) FROM run_events")).scalar_one())

    assert await _run_directly(database_url, delete_the_thread) == 0


async def test_interleaved_runs_are_read_back_by_offset_whatever_the_limit(
    store: Store,
) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_a", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_b", "supervisor", "q")
    odd = [RunEventRecord(i + 1, "e1", o, f"a{o}") for i, o in enumerate(range(1, 20, 2))]
    even = [RunEventRecord(i + 1, "e1", o, f"b{o}") for i, o in enumerate(range(2, 21, 2))]
    await store.append_run_event_batches(
        [
            RunEventBatch(ann, "run_a", odd[:3]),
            RunEventBatch(ann, "run_b", even[:5]),
            RunEventBatch(ann, "run_a", odd[3:]),
            RunEventBatch(ann, "run_b", even[5:]),
        ]
    )
    for after in (0, 4, 9):
        for limit in (1, 2, 5, 7, 30):
            span = await store.list_stream_events(ann, "e1", after=after, limit=limit)
            offsets = [e.offset for e in span]
            assert offsets == list(range(after + 1, after + 1 + len(offsets)))
            assert 1 <= len(offsets) <= limit
            assert [e.frame[1:] for e in span] == [str(o) for o in offsets]
    everything = await store.list_stream_events(ann, "e1", after=0, limit=30)
    assert [e.offset for e in everything] == list(range(1, 21))


async def test_a_stream_span_reads_on_past_rows_that_began_before_it(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    batches = []
    for k in range(1, 41):  # 40 runs in flight at once, each with events k and 100 + k
        await store.start_run(ann, thread_id, f"run_{k}", "supervisor", "q")
        events = [RunEventRecord(1, "e1", k, f"{k}"), RunEventRecord(2, "e1", 100 + k, "x")]
        batches.append(RunEventBatch(ann, f"run_{k}", events))
    await store.append_run_event_batches(batches)
    span = await store.list_stream_events(ann, "e1", after=50, limit=3)
    assert [e.offset for e in span] == [101, 102, 103]
    span = await store.list_stream_events(ann, "e1", after=0, limit=3)
    assert [e.offset for e in span] == [1, 2, 3]


async def test_a_batch_across_an_epoch_change_reads_back_as_sent(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    sent = _events("e1", 1, range(8, 10)) + _events("e2", 3, range(1, 3))
    await store.append_run_events(ann, "run_1", sent)
    assert await store.list_run_events(ann, "run_1") == sent
    assert [e.offset for e in await store.list_stream_events(ann, "e2", after=0)] == [1, 2]


async def test_a_batch_of_several_runs_is_stored_all_or_none(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    bob = (await store.create_user("bob", "hash")).user_id
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    await store.start_run(ann, thread_id, "run_2", "supervisor", "q")
    good = RunEventBatch(ann, "run_1", _events("e1", 1, range(1, 3)))
    with pytest.raises(NotFoundError, match="run 'run_2' not found"):
        await store.append_run_event_batches([good, RunEventBatch(bob, "run_2", [])])
    assert await store.list_run_events(ann, "run_1") == []
    await store.append_run_event_batches([])
    await store.append_run_event_batches([good, RunEventBatch(ann, "run_2", [])])
    assert await store.list_run_events(ann, "run_1") == good.events


async def test_run_events_arguments_are_checked(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_run(ann, thread_id, "run_1", "supervisor", "q")
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await store.list_run_events(ann, "run_1", limit=0)
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await store.list_stream_events(ann, "e1", after=0, limit=0)
    gap = [RunEventRecord(1, "e1", 1, "{}"), RunEventRecord(3, "e1", 2, "{}")]
    with pytest.raises(ValueError, match="seq 1 to 3 for 2 events"):
        await store.append_run_events(ann, "run_1", gap)
    with pytest.raises(ValueError, match="raw newline"):
        await store.append_run_events(ann, "run_1", [RunEventRecord(1, "e1", 1, "{\n}")])
    assert await store.list_run_events(ann, "run_1") == []


# concurrency and time


async def test_concurrent_writes_all_land(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    saved = await asyncio.gather(
        *(store.add_message(ann, thread_id, "user", f"m{i}") for i in range(50))
    )
    listed = await store.list_messages(ann, thread_id)
    assert sorted(m.message_id for m in listed) == sorted(m.message_id for m in saved)


async def test_timestamps_are_aware_utc_with_microseconds(database_url: str) -> None:
    clock = FrozenClock()
    clock.now = datetime(2025, 3, 1, 13, 0, 0, 654321, tzinfo=UTC)
    store = await Store.open(database_url, clock=clock)
    try:
        ann, thread_id = await _user_and_thread(store)
        thread = await store.get_thread(ann, thread_id)
        user = await store.get_user(ann)
        assert user is not None
        for stamp in (thread.created_at, thread.updated_at, user.created_at):
            assert stamp == clock.now
            assert stamp.tzinfo is UTC
            assert stamp.microsecond == 654321
    finally:
        await store.close()


# schema and connections


async def test_open_twice_is_idempotent(database_url: str, store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    again = await Store.open(database_url)
    try:
        assert (await again.get_thread(ann, thread_id)).thread_id == thread_id
        assert again.backend == store.backend
        await again.ping()
    finally:
        await again.close()


async def test_migrated_schema_matches_the_tables(database_url: str, store: Store) -> None:
    def differences(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    assert await _run_directly(database_url, differences) == []


async def test_a_newer_schema_is_refused(database_url: str, store: Store) -> None:
    def stamp_the_future(conn: Connection) -> None:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    await _run_directly(database_url, stamp_the_future)
    with pytest.raises(SchemaVersionError) as refused:
        await Store.open(database_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert str(refused.value) == (
        f"database schema revision 9999_future is newer than this goldpath (knows up to {head}); "
        "upgrade goldpath or point GOLDPATH_DATABASE_URL at another database"
    )


async def test_an_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:9/nowhere failed to upgrade the schema"):
        await Store.open("postgresql://nobody@127.0.0.1:9/nowhere")


async def test_wrong_arguments_are_value_errors(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await store.list_threads(ann, limit=0)
    with pytest.raises(ValueError, match="role 'system' is not one of"):
        await store.add_message(ann, thread_id, "system", "hi")
    with pytest.raises(ValueError, match="must be 1 to 64 characters"):
        await store.start_run(ann, thread_id, "", "supervisor", "hi")
    with pytest.raises(ValueError, match="'running' is not a final status"):
        await store.finish_run(ann, "run_1", "running", None, None)


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    await (await Store.open(url)).close()
    with contextlib.closing(sqlite3.connect(tmp_path / "wal.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def _run_directly(database_url: str, work: Callable[[Connection], R]) -> R:
    """Run ``work`` in one transaction on the test's database, beside the store."""
    url, backend = normalise_url(database_url)
    if backend == "sqlite":
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                return work(conn)
        finally:
            engine.dispose()
    async_engine = create_async_engine(url)
    try:
        async with async_engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await async_engine.dispose()
