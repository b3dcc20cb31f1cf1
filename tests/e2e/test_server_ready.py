"""``GET /ready``: readiness checks the store's schema and the stream backend, and tells
clients which check failed but never why."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goldpath.server import _ready
from goldpath.stream import InMemoryStreamHub
from tests.e2e.conftest import make_settings, running

pytestmark = pytest.mark.e2e

READY = {"status": "ready", "checks": {"store": "ok", "stream": "ok"}}


async def test_ready_when_the_schema_is_current_and_not_after_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running(make_settings(tmp_path)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            answer = await client.get("/ready")
            assert (answer.status_code, answer.json()) == (200, READY)
            database = sqlite3.connect(tmp_path / "goldpath.db")
            database.execute("UPDATE alembic_version SET version_num = '0001'")
            database.commit()
            database.close()
            with caplog.at_level(logging.WARNING, logger="goldpath.server.ready"):
                answer = await client.get("/ready")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "not_ready",
        "checks": {"store": "unavailable", "stream": "ok"},
    }
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "goldpath.server.ready"]
    assert "0001" in logged  # the reason is the operator's, in the log


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def own_redis() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port, which the test may stop."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:  # until it listens (it has no other way to say so)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield port, process
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_not_ready_when_redis_goes_away(
    tmp_path: Path, own_redis: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, redis = own_redis
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0")
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as client:
            answer = await client.get("/ready")
            assert (answer.status_code, answer.json()) == (200, READY)
            redis.terminate()
            await asyncio.to_thread(redis.wait, 10)
            answer = await client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"store": "ok", "stream": "unavailable"}
    assert str(port) not in answer.text


class _SilentHub(InMemoryStreamHub):
    async def check(self) -> None:
        await asyncio.Event().wait()  # a backend that never answers


async def test_a_check_that_does_not_answer_in_time_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ready, "READY_TIMEOUT", 0.05)
    with running(make_settings(tmp_path)) as srv:
        state = srv.app.state.goldpath
        srv.app.state.goldpath = dataclasses.replace(state, hub=_SilentHub())
        try:
            async with httpx.AsyncClient(base_url=srv.base_url) as client:
                answer = await client.get("/ready")
        finally:
            srv.app.state.goldpath = state
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"store": "ok", "stream": "unavailable"}
