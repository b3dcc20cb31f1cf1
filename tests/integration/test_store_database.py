"""SQLite's group commit: writes queued while one commits share the next transaction,
each still answered for itself, and only once it is committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError

from goldpath.store._database import ThreadedSQLite
from goldpath.store._engine import create_sqlite_engine, normalise_url

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url, _ = normalise_url(f"sqlite:///{tmp_path / 'group.db'}")
    return create_sqlite_engine(url, 2)


@pytest.fixture
async def database(engine: Engine) -> AsyncIterator[ThreadedSQLite]:
    made = ThreadedSQLite(engine)
    await made.run(
        lambda conn: conn.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY)")), write=True
    )
    try:
        yield made
    finally:
        await made.close()


def _commits(engine: Engine) -> list[int]:
    """Counts the transactions the database commits from now on."""
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


def _insert(name: str) -> Any:
    def insert(conn: Connection) -> str:
        conn.execute(text("INSERT INTO item (name) VALUES (:name)"), {"name": name})
        return name

    return insert


async def _names(database: ThreadedSQLite) -> list[str]:
    def read(conn: Connection) -> list[str]:
        return [row[0] for row in conn.execute(text("SELECT name FROM item ORDER BY name"))]

    return await database.run(read, write=False)


async def _behind_a_busy_writer(
    database: ThreadedSQLite, works: list[Any]
) -> list[Any | BaseException]:
    """Queue ``works`` while the writer thread is held in another write, then let it go:
    they all wait for the same commit, so they form one group."""
    entered, release = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        entered.set()
        release.wait(10)

    holding = asyncio.ensure_future(database.run(hold, write=True))
    assert await asyncio.to_thread(entered.wait, 10)
    queued = [asyncio.ensure_future(database.run(work, write=True)) for work in works]
    await asyncio.sleep(0)  # every write is queued before the writer is released
    release.set()
    await holding
    return list(await asyncio.gather(*queued, return_exceptions=True))


async def test_writes_queued_meanwhile_commit_together(
    database: ThreadedSQLite, engine: Engine
) -> None:
    commits = _commits(engine)
    results = await _behind_a_busy_writer(database, [_insert(f"n{i}") for i in range(5)])
    assert results == [f"n{i}" for i in range(5)]
    assert len(commits) == 2  # the held write, then the five in one transaction
    assert await _names(database) == [f"n{i}" for i in range(5)]


async def test_a_write_that_fails_in_a_group_fails_alone(database: ThreadedSQLite) -> None:
    def half_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO item (name) VALUES ('half')"))
        raise LookupError("the work failed after writing")

    results = await _behind_a_busy_writer(
        database, [_insert("a"), half_then_fail, _insert("a"), _insert("b")]
    )
    assert results[0] == "a"
    assert isinstance(results[1], LookupError)
    assert isinstance(results[2], IntegrityError)  # "a" is taken by the first write
    assert results[3] == "b"
    assert await _names(database) == ["a", "b"]  # nothing of the failed writes is kept


async def test_a_group_whose_commit_fails_is_tried_write_by_write(
    database: ThreadedSQLite, engine: Engine
) -> None:
    commits: list[int] = []

    def fail_the_group(_conn: Connection) -> None:
        commits.append(1)
        if len(commits) == 2:  # the held write's commit is the first, the group's the second
            raise OSError("the group's commit fails")

    event.listen(engine, "commit", fail_the_group)
    results = await _behind_a_busy_writer(database, [_insert("x"), _insert("y")])
    assert results == ["x", "y"]
    assert len(commits) == 4  # the held write, the failed group, then x and y alone
    assert await _names(database) == ["x", "y"]


async def test_a_group_whose_transaction_breaks_is_tried_write_by_write(
    database: ThreadedSQLite,
) -> None:
    """A write that ends the group's transaction under it (here: a raw ROLLBACK) breaks the
    group: nothing of the group is kept, and each write is then tried on its own."""
    rolled_back: list[int] = []

    def roll_back_once(conn: Connection) -> str:
        if not rolled_back:
            rolled_back.append(1)
            conn.exec_driver_sql("ROLLBACK")
        return "rolled back once"

    results = await _behind_a_busy_writer(database, [_insert("p"), roll_back_once, _insert("q")])
    assert results == ["p", "rolled back once", "q"]
    assert await _names(database) == ["p", "q"]


async def test_a_caller_that_gives_up_does_not_stop_the_others(database: ThreadedSQLite) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        entered.set()
        release.wait(10)

    holding = asyncio.ensure_future(database.run(hold, write=True))
    assert await asyncio.to_thread(entered.wait, 10)
    given_up = asyncio.ensure_future(database.run(_insert("gone"), write=True))
    kept = asyncio.ensure_future(database.run(_insert("kept"), write=True))
    await asyncio.sleep(0)
    given_up.cancel()
    release.set()
    await holding
    assert await kept == "kept"
    # A write already queued is still made, as a write handed to a thread always was.
    assert await _names(database) == ["gone", "kept"]


async def test_a_write_after_close_fails_every_time(engine: Engine) -> None:
    closed = ThreadedSQLite(engine)
    await closed.close()
    for _ in range(2):  # the second is refused as the first was, rather than left waiting
        with pytest.raises(RuntimeError, match="shutdown"):
            await asyncio.wait_for(closed.run(_insert("late"), write=True), 10)
