"""How the store runs one transaction: a sync function given a `Connection`, on either backend.

Every store method is one transaction written as a plain function of a SQLAlchemy
`Connection`. PostgreSQL runs it with `AsyncConnection.run_sync` (asyncpg, through
SQLAlchemy's greenlet bridge). SQLite runs it whole on one of the store's own threads with
the standard ``sqlite3`` module: one thread hop per transaction, where aiosqlite made one
per cursor call (measured in bench/server_load.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

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


class ThreadedSQLite:
    """SQLite: each transaction runs whole on a store thread, never on the event loop.

    One thread writes, so this process's writers queue in order and each starts the moment
    the one before commits (SQLite's own busy wait sleeps up to 100 ms between tries; it is
    left for writers in other processes). A few threads read.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = immediate(engine)
        self._write_conn: Connection | None = None
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="goldpath-sqlite-write")
        self._reads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="goldpath-sqlite-read")

    async def run(self, work: Work[T], *, write: bool) -> T:
        loop = asyncio.get_running_loop()
        if write:
            return await loop.run_in_executor(self._writes, self._write, work)
        return await loop.run_in_executor(self._reads, _in_transaction, self._engine, work)

    def _write(self, work: Work[T]) -> T:
        # The writer thread keeps its connection: no pool check-out, check-in and reset
        # per transaction (~10% of a write's CPU, measured with the store alone).
        conn = self._write_conn
        if conn is None or conn.invalidated:  # invalidated: the database dropped it
            if conn is not None:
                conn.close()
            conn = self._write_conn = self._writer.connect()
        with conn.begin():
            return work(conn)

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


def _in_transaction(engine: Engine, work: Work[T]) -> T:
    with engine.begin() as conn:
        return work(conn)
