"""One engine per store: URL normalisation and the SQLite settings that make it safe.

PostgreSQL gets an async engine (asyncpg). SQLite gets a *sync* engine on the standard
``sqlite3`` module, which the store drives from its own threads, one whole transaction per
thread hop (aiosqlite would hop to its thread for every cursor call, ~36 hops per
``start_run``). SQLite gets WAL (readers never block the writer), foreign keys, a busy
timeout, and SQLAlchemy-emitted ``BEGIN``: writes start with ``BEGIN IMMEDIATE`` so that
two writers (say, two processes) queue on the busy timeout instead of failing with
"database is locked" when a read lock cannot be upgraded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from goldpath.errors import ConfigurationError

Backend = Literal["sqlite", "postgresql"]

BUSY_TIMEOUT_SECONDS = 30.0
_BEGIN_OPTION = "goldpath_sqlite_begin"
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def normalise_url(url: str) -> tuple[URL, Backend]:
    """Map ``sqlite://`` and ``postgresql://`` (any driver) to sqlite3 and asyncpg."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"database URL {url!r} cannot be parsed ({exc}); use sqlite:///path/to/file.db "
            "or postgresql://user:password@host:5432/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigurationError(
                "in-memory SQLite is not supported: every connection would see its own "
                "database; give a file path such as sqlite:///data/goldpath.db"
            )
        return parsed.set(drivername="sqlite+pysqlite"), "sqlite"
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg"), "postgresql"
    raise ConfigurationError(
        f"database URL {parsed.render_as_string(hide_password=True)!r} names backend "
        f"{backend!r}; goldpath supports sqlite and postgresql"
    )


def create_postgresql_engine(url: URL) -> AsyncEngine:
    return create_async_engine(url, pool_pre_ping=True)


def create_sqlite_engine(url: URL, pool_size: int) -> Engine:
    """A sync engine on ``sqlite3`` (whatever driver ``url`` names); the parent directory
    is created so a fresh data dir works. A database file made here is readable by its
    owner only (0600, as SQLite's journal files then are; the directory 0700). Its
    connections may move between threads."""
    assert url.database is not None  # normalise_url refused the in-memory forms
    path = Path(url.database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))  # an existing file is kept as is
    engine = create_sync_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def immediate(engine: Engine) -> Engine:
    """The same engine and pool, whose transactions take SQLite's write lock up front."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Stop the driver from issuing its own BEGIN; _on_sqlite_begin issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
