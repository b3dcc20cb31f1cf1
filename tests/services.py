"""Skip, or fail under GOLDPATH_REQUIRE_SERVICES=1, when a service a test needs is absent."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def services_required() -> bool:
    return os.environ.get("GOLDPATH_REQUIRE_SERVICES") == "1"


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the calling test with a reason, or fail it when services are required."""
    if reachable(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if services_required():
        pytest.fail(f"{reason}, and GOLDPATH_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(reason)


POSTGRES_URL = f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}"
"""The shared PostgreSQL server, without a database name."""


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run admin work on its own loop, leaving the caller's loop (if any) alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def execute_on_postgres(database: str, *statements: str) -> None:
    """Run statements outside a transaction, as CREATE/DROP DATABASE need."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(
        f"{POSTGRES_URL}/{database}", isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database (its name) made for the block and dropped after it; skips or
    fails like `require_service` when PostgreSQL is absent."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    name = f"goldpath_test_{secrets.token_hex(6)}"
    _run_in_thread(execute_on_postgres("postgres", f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        _run_in_thread(
            execute_on_postgres(
                "postgres",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
                f'DROP DATABASE IF EXISTS "{name}"',
            )
        )
