"""Runs waiting for approval in the store, on every backend: one answer wins, deadlines,
pausing only a running run, and migration 0007 both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from goldpath.errors import ConflictError, NotFoundError, RunFinishedError
from goldpath.store import PausedRunRecord, RunEventRecord, RunLease, Store
from goldpath.store._migrate import alembic_config
from tests.integration.test_store import FrozenClock, _run_directly, _user_and_thread

pytestmark = pytest.mark.integration

LEASE = RunLease("node_a", 30)
ANSWERS = 8  # answers racing for one call


async def _waiting(
    store: Store, owner: str, thread_id: str, run_id: str, *, waits_for: float = 60
) -> None:
    await store.start_chat(owner, thread_id, run_id, "supervisor", "q", lease=LEASE)
    await store.pause_run(
        owner,
        run_id,
        call_id="call_1",
        state='{"paused": true}',
        waits_for=waits_for,
        next_event_seq=3,
        events=[RunEventRecord(1, "e1", 1, '{"type":"agent_started"}')],
    )


async def test_of_answers_racing_for_one_call_exactly_one_continues_the_run(
    store: Store,
) -> None:
    ann, thread_id = await _user_and_thread(store)
    await _waiting(store, ann, thread_id, "run_1")
    waiting = await store.get_run(ann, "run_1")
    assert (waiting.status, waiting.node_id) == ("waiting", None)  # no node holds it
    results = await asyncio.gather(
        *(
            store.continue_paused_run(ann, "run_1", "call_1", RunLease(f"node_{i}", 30))
            for i in range(ANSWERS)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, PausedRunRecord)]
    lost = [r for r in results if not isinstance(r, PausedRunRecord)]
    assert len(won) == 1, results
    assert all(isinstance(r, ConflictError) for r in lost), lost
    taken = won[0]
    assert (taken.call_id, taken.state, taken.next_event_seq) == ("call_1", '{"paused": true}', 3)
    assert taken.run.status == "running"
    assert (await store.get_run(ann, "run_1")).node_id == taken.run.node_id
    # Once continued, neither the same answer nor a cancel (any call) can take it again.
    with pytest.raises(ConflictError, match="is not waiting for approval"):
        await store.continue_paused_run(ann, "run_1", "call_1", LEASE)
    with pytest.raises(ConflictError, match="is not waiting for approval"):
        await store.continue_paused_run(ann, "run_1", None, LEASE)
    stored = await store.list_run_events(ann, "run_1")
    assert [e.seq for e in stored] == [1]  # the events stored with the pause


async def test_an_answer_for_another_call_or_user_takes_nothing(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    bob = (await store.create_user("bob", "hash")).user_id
    await _waiting(store, ann, thread_id, "run_1")
    with pytest.raises(ConflictError, match="waits for 'call_1'"):
        await store.continue_paused_run(ann, "run_1", "call_2", LEASE)
    with pytest.raises(NotFoundError):
        await store.continue_paused_run(bob, "run_1", "call_1", LEASE)
    with pytest.raises(NotFoundError):
        await store.continue_paused_run(ann, "run_missing", "call_1", LEASE)
    assert (await store.get_run(ann, "run_1")).status == "waiting"
    cancelled = await store.continue_paused_run(ann, "run_1", None, LEASE)
    assert cancelled.call_id == "call_1"


async def test_only_expired_approvals_are_taken_and_each_once(database_url: str) -> None:
    clock = FrozenClock()
    store = await Store.open(database_url, clock=clock)
    try:
        ann, thread_id = await _user_and_thread(store)
        await _waiting(store, ann, thread_id, "run_soon", waits_for=10)
        await _waiting(store, ann, thread_id, "run_later", waits_for=100)
        await store.start_chat(ann, thread_id, "run_busy", "supervisor", "q", lease=LEASE)
        assert await store.take_expired_approvals(LEASE) == []
        clock.now += timedelta(seconds=10)  # at the deadline: not past it yet
        assert await store.take_expired_approvals(LEASE) == []
        clock.now += timedelta(seconds=1)
        both = await asyncio.gather(
            store.take_expired_approvals(RunLease("node_a", 30)),
            store.take_expired_approvals(RunLease("node_b", 30)),
        )
        taken = [r.run.run_id for batch in both for r in batch]
        assert taken == ["run_soon"]  # by one node of the two
        assert (await store.get_run(ann, "run_soon")).status == "running"
        assert (await store.get_run(ann, "run_later")).status == "waiting"
        assert (await store.get_run(ann, "run_busy")).status == "running"
        # A sweep of lost runs leaves a waiting run alone: it holds no lease to lose.
        clock.now += timedelta(seconds=60)
        swept = await store.finish_lost_runs("interrupted")
        assert "run_later" not in [r.run_id for r in swept]
        assert (await store.get_run(ann, "run_later")).status == "waiting"
        clock.now += timedelta(seconds=40)
        assert [r.run.run_id for r in await store.take_expired_approvals(LEASE)] == ["run_later"]
    finally:
        await store.close()


async def test_a_run_that_is_not_running_cannot_pause(store: Store) -> None:
    ann, thread_id = await _user_and_thread(store)
    await store.start_chat(ann, thread_id, "run_1", "supervisor", "q", lease=LEASE)
    await store.finish_run(ann, "run_1", "cancelled", None, "the run was cancelled")
    with pytest.raises(RunFinishedError, match="already finished with status 'cancelled'"):
        await store.pause_run(
            ann, "run_1", call_id="call_1", state="{}", waits_for=60, next_event_seq=1
        )
    await _waiting(store, ann, thread_id, "run_2")
    with pytest.raises(RunFinishedError, match="status 'waiting'"):  # waits already
        await store.pause_run(
            ann, "run_2", call_id="call_2", state="{}", waits_for=60, next_event_seq=9
        )
    assert (await store.get_run(ann, "run_1")).status == "cancelled"
    assert (await store.continue_paused_run(ann, "run_2", "call_1", LEASE)).call_id == "call_1"


async def test_a_paused_run_finishes_once_and_forgets_its_state(
    database_url: str, store: Store
) -> None:
    ann, thread_id = await _user_and_thread(store)
    await _waiting(store, ann, thread_id, "run_1")
    with pytest.raises(RunFinishedError):  # a waiting run is finished only once continued
        await store.finish_run(ann, "run_1", "ok", "late", None)
    await store.continue_paused_run(ann, "run_1", "call_1", LEASE)
    done = await store.finish_run(ann, "run_1", "ok", "done", None)
    assert done.status == "ok"

    def paused_columns(conn: Connection) -> tuple[object, ...]:
        row = conn.execute(
            text("SELECT pending_call_id, paused_state FROM runs WHERE run_id = 'run_1'")
        ).one()
        return tuple(row)

    assert await _run_directly(database_url, paused_columns) == (None, None)


async def test_migration_0007_downgrades_and_upgrades_with_runs_in_every_state(
    database_url: str,
) -> None:
    store = await Store.open(database_url)
    try:
        ann, thread_id = await _user_and_thread(store)
        await _waiting(store, ann, thread_id, "run_waiting")
        await store.start_chat(ann, thread_id, "run_busy", "supervisor", "q", lease=LEASE)
        await store.start_chat(ann, thread_id, "run_done", "supervisor", "q", lease=LEASE)
        await store.finish_run(ann, "run_done", "ok", "answer", None)
    finally:
        await store.close()

    def migrate(revision: str, *, up: bool) -> Callable[[Connection], dict[str, str]]:
        def work(conn: Connection) -> dict[str, str]:
            config = alembic_config(conn)
            (command.upgrade if up else command.downgrade)(config, revision)
            assert MigrationContext.configure(conn).get_current_revision() == revision
            rows = conn.execute(text("SELECT run_id, status FROM runs")).all()
            return {row.run_id: row.status for row in rows}

        return work

    before = await _run_directly(database_url, migrate("0006", up=False))
    # 0006 knows no 'waiting': a waiting run cannot go on there, so it ends cancelled.
    assert before == {"run_waiting": "cancelled", "run_busy": "running", "run_done": "ok"}
    after = await _run_directly(database_url, migrate("0007", up=True))
    assert after == before
    reopened = await Store.open(database_url)
    try:
        ended = await reopened.get_run(ann, "run_waiting")
        assert ended.error is not None
        assert "downgrade" in ended.error
        assert ended.finished_at is not None
        await _waiting(reopened, ann, thread_id, "run_again")
        assert (await reopened.get_run(ann, "run_again")).status == "waiting"
    finally:
        await reopened.close()
