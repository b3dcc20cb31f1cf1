"""The store's methods for runs that wait for a person's approval.

A paused run is a row, not a task: status ``waiting``, the call it waits on, what
continues it (opaque JSON the engine made) and its approval deadline. Continuing it is one
conditional UPDATE that takes the row back to ``running`` under the continuing node's
lease, so of two answers to one call (twice from one client, or at two nodes at once)
exactly one continues the run; the other gets `ConflictError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, select, update
from sqlalchemy.engine import Connection

from goldpath.errors import ConflictError, RunFinishedError

from ._queries import owned_run, owned_thread, run_record
from ._records import RunEventBatch, RunEventRecord, RunLease, RunRecord
from ._run_events import insert_run_events
from ._schema import runs

__all__ = ["PausedRunRecord", "RunPauseMethods"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PausedRunRecord:
    """A paused run a node took back to continue or end: ``state`` is what the engine
    stored, ``next_event_seq`` the seq its next stored event takes."""

    run: RunRecord
    call_id: str
    state: str
    next_event_seq: int


class RunPauseMethods:
    """The store's methods for paused runs; `goldpath.store.Store` has them."""

    _now: Callable[[], datetime]  # Store's clock

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def pause_run(
        self,
        owner_id: str,
        run_id: str,
        *,
        call_id: str,
        state: str,
        waits_for: float,
        next_event_seq: int,
        events: Sequence[RunEventRecord] = (),
    ) -> None:
        """Make a running run ``waiting`` for approval of ``call_id`` for at most
        ``waits_for`` seconds; ``events``, its events not stored yet, go in the same
        transaction. It leaves its node's lease: no node holds a waiting run.

        `RunFinishedError` when the run is no longer running (a sweep ended it).
        """
        change = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.owner_id == owner_id)
            .where(runs.c.status == "running")
            .values(
                status="waiting",
                pending_call_id=call_id,
                paused_state=state,
                approval_deadline=self._now() + timedelta(seconds=waits_for),
                next_event_seq=next_event_seq,
                node_id=None,
                lease_until=None,
            )
            .returning(runs.c.run_id)
        )

        def pause(conn: Connection) -> None:
            if conn.execute(change).first() is None:
                status = owned_run(conn, owner_id, run_id).status
                raise RunFinishedError(
                    f"run {run_id!r} already finished with status {status!r}; it cannot wait"
                )
            insert_run_events(conn, [RunEventBatch(owner_id, run_id, events)])

        await self._run("pause a run for approval", pause, write=True)

    async def continue_paused_run(
        self, owner_id: str, run_id: str, call_id: str | None, lease: RunLease
    ) -> PausedRunRecord:
        """Take a waiting run back to ``running`` under ``lease`` to continue it with the
        answer to ``call_id`` (None: any call, to cancel it).

        `NotFoundError` for a missing run or someone else's; `ConflictError` when it is not
        waiting for that call (answered already, or never asked).
        """
        change = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.owner_id == owner_id)
            .where(runs.c.status == "waiting")
        )
        if call_id is not None:
            change = change.where(runs.c.pending_call_id == call_id)
        change = self._taken(change, lease)

        def take(conn: Connection) -> PausedRunRecord:
            row = conn.execute(change).first()
            if row is not None:
                return _paused(row)
            found = owned_run(conn, owner_id, run_id)
            if found.status != "waiting":
                raise ConflictError(
                    f"run {run_id!r} is not waiting for approval (its status is "
                    f"{found.status!r}); there is nothing to answer"
                )
            raise ConflictError(
                f"run {run_id!r} is not waiting for the call {call_id!r}; it waits for "
                f"{found.pending_call_id!r}"
            )

        return await self._run("continue a paused run", take, write=True)

    async def paused_run(self, owner_id: str, run_id: str) -> PausedRunRecord:
        """The owner's run waiting for approval as stored, left waiting: what it waits for.

        `NotFoundError` for a missing run or someone else's; `ConflictError` when it is not
        waiting.
        """
        query = select(runs).where(runs.c.run_id == run_id, runs.c.owner_id == owner_id)

        def read(conn: Connection) -> PausedRunRecord:
            row = conn.execute(query.where(runs.c.status == "waiting")).first()
            if row is not None:
                return _paused(row)
            status = owned_run(conn, owner_id, run_id).status
            raise ConflictError(f"run {run_id!r} is not waiting for approval (it is {status!r})")

        return await self._run("read a paused run", read, write=False)

    async def waiting_runs(self, owner_id: str, thread_id: str) -> list[PausedRunRecord]:
        """The owner's runs of ``thread_id`` waiting for approval, oldest first, left
        waiting; `NotFoundError` for a missing thread or someone else's."""
        query = (
            select(runs)
            .where(runs.c.thread_id == thread_id, runs.c.owner_id == owner_id)
            .where(runs.c.status == "waiting")
            .order_by(runs.c.created_at, runs.c.run_id)
        )

        def read(conn: Connection) -> list[PausedRunRecord]:
            owned_thread(conn, owner_id, thread_id)
            return [_paused(row) for row in conn.execute(query)]

        return await self._run("read the waiting runs of a thread", read, write=False)

    async def take_expired_approvals(self, lease: RunLease) -> list[PausedRunRecord]:
        """Take back to ``running`` under ``lease`` every waiting run whose approval
        deadline has passed, for this node to end with status ``timeout``."""
        change = self._taken(
            update(runs)
            .where(runs.c.status == "waiting")
            .where(runs.c.approval_deadline < self._now()),
            lease,
        )

        def take(conn: Connection) -> list[PausedRunRecord]:
            return [_paused(row) for row in conn.execute(change)]

        return await self._run("end runs nobody approved in time", take, write=True)

    def _taken(self, change: Any, lease: RunLease) -> Any:
        # The call and the state stay on the row (RETURNING gives the new row), until the
        # run finishes or pauses again.
        return change.values(
            status="running",
            node_id=lease.node_id,
            lease_until=self._now() + timedelta(seconds=lease.seconds),
            approval_deadline=None,
        ).returning(*runs.c)


def _paused(row: Row[Any]) -> PausedRunRecord:
    return PausedRunRecord(
        run_record(row), row.pending_call_id, row.paused_state, row.next_event_seq
    )
