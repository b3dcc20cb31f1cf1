"""Leases: a node's claim on its runs, renewed while it lives, and what survivors do.

Every run records the node that runs it and a lease (``runs.node_id``, ``lease_until``)
in the store. A node renews the leases of all its runs in one statement every third of
the lease (its heartbeat); every node sweeps, every fifth of the lease, for runs whose
lease has run out, finishes them ``error`` in one conditional statement and writes their
``agent_completed`` to the user's stream. The statement decides who ends a run, so a run
gets exactly one ``agent_completed`` even when its node and a sweep race.

The leases are in the store, not Redis, so that the lease and the run's status change in
one place: a Redis stall cannot make a live node's runs look abandoned, and one process on
SQLite works the same way (docs/deploy.md says more).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from goldpath.cluster._base import Cluster
from goldpath.context import UserExecutionContext
from goldpath.errors import GoldpathError
from goldpath.events import AgentCompleted, Emitter, RunStatus
from goldpath.store import RunLease, RunRecord, Store
from goldpath.stream import StreamHub

__all__ = ["INTERRUPTED", "LeaseKeeper", "write_end"]

logger = logging.getLogger("goldpath.cluster")

INTERRUPTED = "interrupted: the server running it stopped"
"""The error a run gets when its node stopped before it ended, as the user reads it."""


async def write_end(
    hub: StreamHub, store: Store, run: RunRecord, status: RunStatus, error: str
) -> None:
    """Write the ``agent_completed`` of a run another node ended in the store, to the
    user's stream and after the run's stored events."""
    context = UserExecutionContext(
        user_id=run.owner_id,
        thread_id=run.thread_id,
        run_id=run.run_id,
        request_id=f"req_{run.run_id}",
    )
    ended = run.finished_at or datetime.now(UTC)
    duration = round((ended - run.created_at).total_seconds() * 1000, 3)
    emitter = Emitter(context, hub.for_user(run.owner_id), run.agent)
    event = await emitter.emit(AgentCompleted(status=status, duration_ms=duration, error=error))
    await store.append_last_run_event(
        run.owner_id, run.run_id, event.epoch, event.offset, event.json
    )


class LeaseKeeper:
    """Renews this node's leases and sweeps for runs of nodes that stopped.

    ``local_runs`` gives the ids of the runs in flight here; ``on_lost`` is told of one the
    store says is no longer this node's (a sweep ended it while this node could not renew:
    the node stops it, and writes no second end). ``on_sweep`` is more upkeep every sweep
    (the server ends the runs nobody approved in time).
    """

    __slots__ = (
        "_cluster",
        "_hub",
        "_lease",
        "_local_runs",
        "_on_lost",
        "_on_sweep",
        "_store",
        "_tasks",
    )

    def __init__(
        self,
        store: Store,
        hub: StreamHub,
        cluster: Cluster,
        lease: RunLease,
        *,
        local_runs: Callable[[], Collection[str]],
        on_lost: Callable[[str], None],
        on_sweep: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._cluster = cluster
        self._lease = lease
        self._local_runs = local_runs
        self._on_lost = on_lost
        self._on_sweep = on_sweep
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *, sole_node: bool) -> None:
        """Finish the runs stopped nodes left, then keep renewing and sweeping.

        ``sole_node``: this process knows it is the only one on the database (it holds the
        SQLite file's lock), so every run still ``running`` was left by a stopped process.
        """
        await self.sweep(every=sole_node)
        seconds = self._lease.seconds
        self._tasks = [
            asyncio.create_task(self._every(seconds / 3, self.renew), name="goldpath-lease"),
            asyncio.create_task(self._every(seconds / 5, self.sweep), name="goldpath-sweep"),
        ]

    async def renew(self) -> None:
        """The heartbeat: extend this node's leases; stop the runs it no longer holds."""
        local = frozenset(self._local_runs())  # before: each of these is in the store
        held = await self._store.renew_leases(self._lease)
        for run_id in local - held:
            self._on_lost(run_id)
        await self._cluster.heartbeat(local & held)

    async def sweep(self, *, every: bool = False) -> int:
        """End each run whose lease ran out; returns how many this node ended."""
        ended = await self._store.finish_lost_runs(INTERRUPTED, every=every)
        for run in ended:
            logger.warning(
                "run %s of node %s ended: its lease ran out",
                run.run_id,
                run.node_id,
                extra={"user_id": run.owner_id, "run_id": run.run_id},
            )
            try:
                await write_end(self._hub, self._store, run, "error", INTERRUPTED)
            except GoldpathError as exc:  # stored as ended; the stream's repair resyncs
                logger.error("could not write the end of run %s: %s", run.run_id, exc)
        if self._on_sweep is not None:
            await self._on_sweep()
        return len(ended)

    async def _every(self, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except GoldpathError as exc:
                logger.warning("lease upkeep failed, retrying in %.1f s: %s", seconds, exc)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
