"""The store's thread edits: renaming a thread, and deleting it with all it holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from goldpath.errors import NotFoundError

from ._queries import owned_thread, run_record, thread_record
from ._records import RunRecord, ThreadRecord
from ._schema import runs, threads

__all__ = ["ThreadEditMethods"]

T = TypeVar("T")


class ThreadEditMethods:
    """The store's methods that change a thread; `goldpath.store.Store` has them."""

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def rename_thread(self, owner_id: str, thread_id: str, title: str) -> ThreadRecord:
        """Give the owner's thread a new title (`NotFoundError` for someone else's). A
        rename is not activity: ``updated_at`` stays, so the thread keeps its place."""
        if not title.strip():
            raise ValueError("a thread's title cannot be empty")
        change = update(threads).where(threads.c.thread_id == thread_id).values(title=title)

        def rename(conn: Connection) -> ThreadRecord:
            owned_thread(conn, owner_id, thread_id)
            conn.execute(change)
            return thread_record(owned_thread(conn, owner_id, thread_id))

        return await self._run("rename a thread", rename, write=True)

    async def running_runs(self, owner_id: str, thread_id: str) -> list[RunRecord]:
        """The owner's runs of the thread still running (on any node)."""
        query = select(runs).where(
            runs.c.thread_id == thread_id, runs.c.owner_id == owner_id, runs.c.status == "running"
        )

        def read(conn: Connection) -> list[RunRecord]:
            return [run_record(row) for row in conn.execute(query)]

        return await self._run("list a thread's running runs", read, write=False)

    async def delete_thread(self, owner_id: str, thread_id: str) -> None:
        """Delete the owner's thread with its messages, runs and their events (the foreign
        keys cascade, so tables added later go too); `NotFoundError` for someone else's."""
        change = delete(threads).where(
            threads.c.thread_id == thread_id, threads.c.owner_id == owner_id
        )

        def delete_(conn: Connection) -> None:
            if conn.execute(change).rowcount == 0:
                raise NotFoundError(f"thread {thread_id!r} not found; check the thread id")

        await self._run("delete a thread", delete_, write=True)
