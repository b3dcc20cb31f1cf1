"""The store's methods for run leases: a node's heartbeat and the sweep for stopped nodes.

Each run records its node and ``lease_until`` (migration 0006); docs/deploy.md says how
`goldpath.cluster.LeaseKeeper` uses these two statements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, update
from sqlalchemy.engine import Connection

from ._queries import run_record
from ._records import RunLease, RunRecord
from ._schema import runs

__all__ = ["RunLeaseMethods"]

T = TypeVar("T")


class RunLeaseMethods:
    """The store's methods for leases; `goldpath.store.Store` has them."""

    _now: Callable[[], datetime]  # Store's clock

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def renew_leases(self, lease: RunLease) -> set[str]:
        """Extend the lease of every running run of ``lease.node_id``: the node's heartbeat.

        Returns the ids of the runs it still holds; a run of the node missing from them was
        finished meanwhile by another node's sweep (its lease had run out), so its node must
        stop it without ending it a second time.
        """
        change = (
            update(runs)
            .where(runs.c.node_id == lease.node_id, runs.c.status == "running")
            .values(lease_until=self._now() + timedelta(seconds=lease.seconds))
            .returning(runs.c.run_id)
        )

        def renew(conn: Connection) -> set[str]:
            return {row.run_id for row in conn.execute(change)}

        return await self._run("renew the node's leases", renew, write=True)

    async def finish_lost_runs(self, error: str, *, every: bool = False) -> list[RunRecord]:
        """Finish with status ``error`` each running run whose lease has run out (or has
        none), and return them; with ``every``, each running run (only for a process that
        knows it is the database's only user, e.g. holding the SQLite file's lock).

        The check and the change are one statement, as in `finish_run`: a run is finished
        once, by this sweep or by its node, and only the one that changed it gets it back.
        """
        now = self._now()
        change = update(runs).where(runs.c.status == "running")
        if not every:
            change = change.where(or_(runs.c.lease_until.is_(None), runs.c.lease_until < now))
        change = change.values(status="error", error=error, finished_at=now).returning(*runs.c)

        def finish(conn: Connection) -> list[RunRecord]:
            return [run_record(row) for row in conn.execute(change)]

        return await self._run("finish runs whose node stopped", finish, write=True)
