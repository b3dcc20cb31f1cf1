"""The store's methods for AG-UI runs that a resume started.

Over AG-UI a goldpath run that waits for approvals is several AG-UI runs: the first is the
client's ``runId`` of the run itself; each ``POST /ag-ui`` with ``resume`` starts the next
under a ``runId`` of its own. That one is kept here, with the goldpath run it is part of
and after how many of the run's answers it starts, so ``GET /ag-ui/runs/{runId}/events``
can find it again. ``agui_run_id`` is made from the owner and the client's id as a run id
is, so one client id names at most one AG-UI run per user, of either kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from goldpath.errors import ConflictError, NotFoundError

from ._queries import owned_run, run_record
from ._records import RunRecord
from ._schema import agui_resumes, runs

__all__ = ["AguiRunMethods"]

T = TypeVar("T")


class AguiRunMethods:
    """The store's methods for AG-UI runs started by a resume; `goldpath.store.Store` has
    them."""

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def add_agui_resume(
        self, owner_id: str, agui_run_id: str, run_id: str, answers: int
    ) -> None:
        """Keep that the AG-UI run ``agui_run_id`` is the part of the owner's run ``run_id``
        after its ``answers``-th answer. `NotFoundError` for a missing run or someone
        else's; `ConflictError` when ``agui_run_id`` names a run or AG-UI run already."""
        used = select(runs.c.run_id).where(runs.c.run_id == agui_run_id)

        def add(conn: Connection) -> None:
            owned_run(conn, owner_id, run_id)
            if conn.execute(used).first() is not None:
                raise _used(agui_run_id)
            try:
                conn.execute(
                    agui_resumes.insert(),
                    {"agui_run_id": agui_run_id, "run_id": run_id, "answers": answers},
                )
            except IntegrityError:
                raise _used(agui_run_id) from None

        await self._run("keep an AG-UI run of a resume", add, write=True)

    async def agui_resumed_run(self, owner_id: str, agui_run_id: str) -> tuple[RunRecord, int]:
        """The owner's run the AG-UI run ``agui_run_id`` (started by a resume) is part of,
        and after how many of its answers it starts; `NotFoundError` when the owner has no
        such AG-UI run."""
        query = (
            select(runs, agui_resumes.c.answers)
            .join(agui_resumes, agui_resumes.c.run_id == runs.c.run_id)
            .where(agui_resumes.c.agui_run_id == agui_run_id, runs.c.owner_id == owner_id)
        )

        def read(conn: Connection) -> tuple[RunRecord, int]:
            row = conn.execute(query).first()
            if row is None:
                raise NotFoundError(f"run {agui_run_id!r} not found; check the run id")
            return run_record(row), int(row.answers)

        return await self._run("read an AG-UI run of a resume", read, write=False)


def _used(agui_run_id: str) -> ConflictError:
    return ConflictError(f"run id {agui_run_id!r} was used already; send a new runId")
