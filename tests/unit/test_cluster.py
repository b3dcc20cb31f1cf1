"""The in-process cluster: rate windows, run slots, cancels, and the SQLite file lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goldpath.cluster import DatabaseLock, InProcessCluster, SlidingWindow, sqlite_path
from goldpath.cluster._windows import SWEEP_AT
from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, TooManyRunsError

pytestmark = pytest.mark.unit


async def test_sliding_window() -> None:
    now = [100.0]
    window = SlidingWindow(2, 10, clock=lambda: now[0])
    assert await window.try_hit("a") == 0
    assert await window.try_hit("a") == 0
    assert await window.try_hit("a") == 10
    assert window.retry_after("b") == 0
    now[0] = 105.5
    assert window.retry_after("a") == 5
    now[0] = 110.0
    assert window.retry_after("a") == 0
    window.hit("a")
    now[0] = 200.0
    assert window.retry_after("a") == 0
    assert await window.try_hit("a") == 0


async def test_a_released_hit_gives_its_place_back() -> None:
    window = SlidingWindow(1, 10, clock=lambda: 5.0)
    wait, hit = await window.reserve("a")
    assert (wait, window.limit) == (0, 1)
    assert hit is not None
    assert await window.reserve("a") == (10, None)
    await window.release("a", hit)
    await window.release("a", hit)  # twice, or for a key that is gone: nothing
    assert len(window) == 0
    assert (await window.reserve("a"))[0] == 0


def test_sliding_window_forgets_idle_keys() -> None:
    now = [0.0]
    window = SlidingWindow(1, 10, clock=lambda: now[0])
    for i in range(SWEEP_AT):
        window.hit(f"scan{i}")
    assert len(window) == SWEEP_AT
    now[0] = 20.0
    window.hit("late")
    assert len(window) == 1


async def test_in_process_slots_are_per_user() -> None:
    cluster = InProcessCluster()
    contexts = [UserExecutionContext.create("u1", "t") for _ in range(3)]
    for context in contexts[:2]:
        await cluster.slots.take(context, 2)
    with pytest.raises(TooManyRunsError):
        await cluster.slots.take(contexts[2], 2)
    await cluster.slots.take(UserExecutionContext.create("u2", "t"), 2)
    assert cluster.slots.in_flight("u1") == 2
    await cluster.slots.release(contexts[0])
    await cluster.slots.release(contexts[1])
    assert cluster.slots.in_flight("u1") == 0


async def test_in_process_cancels_reach_only_this_node() -> None:
    cluster = InProcessCluster()
    cancelled: list[str] = []
    assert not await cluster.send_cancel(cluster.node_id, "run_1")  # not started yet
    await cluster.start(cancelled.append)
    assert await cluster.send_cancel(cluster.node_id, "run_1")
    assert not await cluster.send_cancel("node_gone", "run_2")
    assert cancelled == ["run_1"]
    assert cluster.window("x", 3, 1.0).limit == 3
    await cluster.check()
    await cluster.heartbeat(frozenset())
    await cluster.close()
    assert InProcessCluster("node_a").node_id == "node_a"


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:///data/goldpath.db?x=1") == Path("data/goldpath.db")
    assert sqlite_path("sqlite:////abs/g.db") == Path("/abs/g.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+asyncpg://u@h/db") is None


_HOLD = """
import sys, time
from pathlib import Path
from goldpath.cluster import DatabaseLock
DatabaseLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    database = tmp_path / "goldpath.db"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(database)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(ConfigurationError, match=f"pid {holder.pid}\\b"):
                DatabaseLock(database).check()
        finally:
            holder.kill()
    DatabaseLock(database).check()  # the OS released it with the process
    assert not database.exists()  # only the lock file was ever made


def test_the_lock_is_released_and_a_missing_directory_is_left_alone(tmp_path: Path) -> None:
    lock = DatabaseLock(tmp_path / "goldpath.db")
    lock.acquire()
    assert (tmp_path / "goldpath.db.lock").read_text() == f"{os.getpid()}\n"
    lock.release()
    lock.release()
    assert (tmp_path / "goldpath.db.lock").read_text() == ""
    DatabaseLock(tmp_path / "missing" / "goldpath.db").check()
    assert not (tmp_path / "missing").exists()


async def test_a_window_checks_and_records_apart() -> None:
    now = [0.0]
    window = SlidingWindow(1, 10, clock=lambda: now[0])
    assert await window.wait("a") == 0
    await window.record("a")
    await window.record("a")  # whatever the count
    assert await window.wait("a") == 10
    now[0] = 10.0
    assert await window.wait("a") == 0
