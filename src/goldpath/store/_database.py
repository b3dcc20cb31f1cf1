"""How the store runs one transaction: a sync function given a `Connection`, on either backend.

Every store method is one transaction written as a plain function of a SQLAlchemy
`Connection`. PostgreSQL runs it with `AsyncConnection.run_sync` (asyncpg, through
SQLAlchemy's greenlet bridge). SQLite runs it whole on one of the store's own threads with
the standard ``sqlite3`` module: one thread hop per transaction, where aiosqlite made one
per cursor call (measured in bench/server_load.py). SQLite's writes are group-committed:
the writes queued while one commits share the next transaction (`ThreadedSQLite`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from ._engine import immediate

T = TypeVar("T")
Work = Callable[[Connection], T]

SQLITE_READERS = 4
"""Threads (and connections) for SQLite reads; WAL lets them run beside the writer."""


class Database(Protocol):
    async def run(self, work: Work[T], *, write: bool) -> T:
        """Run ``work`` in one transaction, committed if it returns, rolled back if it raises."""
        ...

    async def close(self) -> None: ...


class AsyncDatabase:
    """PostgreSQL: the transaction on the async engine's pool, on the event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, work: Work[T], *, write: bool) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        await self._engine.dispose()


class _Write:
    """One queued write: its work, and the future its caller awaits."""

    __slots__ = ("error", "future", "result", "work")

    def __init__(self, work: Work[Any], future: asyncio.Future[Any]) -> None:
        self.work = work
        self.future = future
        self.result: Any = None
        self.error: BaseException | None = None


class ThreadedSQLite:
    """SQLite: each transaction runs whole on a store thread, never on the event loop.

    One thread writes, so this process's writers queue in order and each starts the moment
    the one before commits (SQLite's own busy wait sleeps up to 100 ms between tries; it is
    left for writers in other processes). The writes queued meanwhile go together: one
    ``BEGIN``, each write under its own savepoint (a write that fails is undone alone and
    fails alone), one ``COMMIT``, and one wake-up of the event loop for all their callers.
    A write still returns only once it is committed. Under load this is most of the
    writer's CPU: a commit writes every page the transaction changed, and writes of
    concurrent chats change the same pages. A few threads read.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = immediate(engine)
        self._write_conn: Connection | None = None
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="goldpath-sqlite-write")
        self._reads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="goldpath-sqlite-read")
        self._queue: list[_Write] = []
        self._queue_lock = threading.Lock()
        self._draining = False  # a drain is on the writer thread or submitted to it

    async def run(self, work: Work[T], *, write: bool) -> T:
        loop = asyncio.get_running_loop()
        if not write:
            return await loop.run_in_executor(self._reads, _in_transaction, self._engine, work)
        queued = _Write(work, loop.create_future())
        with self._queue_lock:
            self._queue.append(queued)
            start = not self._draining
            self._draining = True
        if start:
            try:
                self._writes.submit(self._drain, loop)
            except RuntimeError:  # closed: no writer thread will ever take the queue
                with self._queue_lock:
                    self._queue.clear()
                    self._draining = False
                raise
        result: T = await queued.future
        return result

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the writer thread: commit what is queued, group by group, until none is left."""
        while True:
            with self._queue_lock:
                group, self._queue = self._queue, []
                if not group:
                    self._draining = False
                    return
            self._commit(group)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_answer, group)

    def _commit(self, group: list[_Write]) -> None:
        if len(group) > 1:
            try:
                conn = self._connection()
                with conn.begin():
                    for write in group:
                        _under_savepoint(write, conn)
                return
            except Exception:
                # The group's transaction itself failed (its BEGIN, a savepoint's rollback,
                # its COMMIT): nothing of it was stored, so each write is tried on its own
                # and fails, if it does, for itself.
                self._recover()
        for write in group:
            write.error = None
            try:
                conn = self._connection()
                with conn.begin():
                    write.result = write.work(conn)
            except Exception as exc:
                write.error = exc
                self._recover()

    def _recover(self) -> None:
        """After a failed transaction: a connection that SQLite still holds in a transaction
        (a failed ``COMMIT`` leaves it open) is dropped, and the next write opens another."""
        conn = self._write_conn
        if conn is None or conn.invalidated:
            return
        raw = conn.connection.dbapi_connection
        if raw is None or raw.in_transaction:
            conn.invalidate()

    def _connection(self) -> Connection:
        # The writer thread keeps its connection: no pool check-out, check-in and reset
        # per transaction (~10% of a write's CPU, measured with the store alone).
        conn = self._write_conn
        if conn is None or conn.invalidated:  # invalidated: the database dropped it
            if conn is not None:
                conn.close()
            conn = self._write_conn = self._writer.connect()
        return conn

    async def close(self) -> None:
        await asyncio.to_thread(self._shut_down)

    def _shut_down(self) -> None:
        self._writes.submit(self._close_writer)
        self._writes.shutdown()
        self._reads.shutdown()
        self._engine.dispose()

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()


def _under_savepoint(write: _Write, conn: Connection) -> None:
    """Run one write of a group; a failure undoes it alone (a failing rollback fails the group).

    The savepoint is the driver's own statement, not SQLAlchemy's nested transaction, which
    would take each through SQLAlchemy's execution path as an insert is."""
    raw = conn.connection.driver_connection
    assert raw is not None  # a connection in a transaction has its driver's connection
    raw.execute("SAVEPOINT goldpath_write")
    try:
        write.result = write.work(conn)
    except Exception as exc:
        raw.execute("ROLLBACK TO goldpath_write")
        write.error = exc
    raw.execute("RELEASE goldpath_write")


def _answer(group: list[_Write]) -> None:
    """On the event loop: hand each caller its result (a caller that gave up is skipped)."""
    for write in group:
        if write.future.cancelled():
            continue
        if write.error is not None:
            write.future.set_exception(write.error)
            write.error = None  # the future holds it; no cycle through its traceback
        else:
            write.future.set_result(write.result)


def _in_transaction(engine: Engine, work: Work[T]) -> T:
    with engine.begin() as conn:
        return work(conn)
