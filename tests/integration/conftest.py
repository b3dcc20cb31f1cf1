"""Shared integration fixtures: a fresh database on every store backend."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from goldpath.store import Store
from tests.services import POSTGRES_HOST, POSTGRES_PORT, require_service

T = TypeVar("T")

STORE_BACKENDS = ["sqlite", "postgresql"]
_POSTGRES = f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}"


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run admin work on its own loop, leaving pytest-asyncio's loop alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _execute(database: str, *statements: str) -> None:
    """Run statements outside a transaction, as CREATE/DROP DATABASE need."""
    engine = create_async_engine(
        f"{_POSTGRES}/{database}", isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database made for this test session and dropped at its end."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    name = f"goldpath_test_{secrets.token_hex(6)}"
    _run_in_thread(_execute("postgres", f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        _run_in_thread(
            _execute(
                "postgres",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
                f'DROP DATABASE IF EXISTS "{name}"',
            )
        )


@pytest.fixture(params=STORE_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database's URL, on each backend; PostgreSQL's schema is wiped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'goldpath.db'}"
        return
    name: str = request.getfixturevalue("postgres_database")
    yield f"{_POSTGRES}/{name}"
    await _execute(name, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on an empty database, closed after the test."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
