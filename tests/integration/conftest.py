"""Shared integration fixtures: a fresh database on every store backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from goldpath.store import Store
from tests.services import POSTGRES_URL, execute_on_postgres
from tests.services import postgres_database as temporary_postgres_database

STORE_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database made for this test session and dropped at its end."""
    with temporary_postgres_database() as name:
        yield name


@pytest.fixture(params=STORE_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database's URL, on each backend; PostgreSQL's schema is wiped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'goldpath.db'}"
        return
    name: str = request.getfixturevalue("postgres_database")
    yield f"{POSTGRES_URL}/{name}"
    await execute_on_postgres(name, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on an empty database, closed after the test."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
