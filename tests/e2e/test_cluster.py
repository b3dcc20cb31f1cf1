"""Several real goldpath processes on one PostgreSQL and one Redis: one system.

Runs belong to the node that accepted them through a lease; a survivor ends a dead node's
runs; cancels and the per-user run limit reach across nodes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from goldpath.cluster import INTERRUPTED
from tests.e2e.cluster import Node, Nodes, cluster
from tests.e2e.conftest import FRAME_TIMEOUT, User, WsClient, new_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with cluster(tmp_path) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=FRAME_TIMEOUT) as client:
        yield client


async def open_socket(node: Node, user: User) -> WsClient:
    connection = await connect(
        node.ws_url, additional_headers={"Authorization": f"Bearer {user.token}"}
    )
    client = WsClient(connection)
    assert (await client.recv())["type"] == "ready"
    await client.send({"type": "ping"})  # once answered, this socket is subscribed
    assert await client.recv() == {"type": "pong"}
    return client


async def register(http: httpx.AsyncClient, node: Node, prefix: str) -> User:
    http.base_url = httpx.URL(node.base_url)
    return await new_user(http, prefix)


def ends_of(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") == "agent_completed" and f["run_id"] == run_id]


async def test_a_killed_nodes_run_ends_on_the_users_other_socket(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    doomed, survivor = nodes.start(2)
    user = await register(http, survivor, "killed")
    watcher = await open_socket(survivor, user)
    sender = await open_socket(doomed, user)
    async with watcher.connection, sender.connection:
        accepted = await sender.chat("sleep")
        run_id = accepted["run_id"]
        await watcher.until(lambda f: f.get("type") == "agent_thinking")
        doomed.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        frames = await watcher.until(lambda f: bool(ends_of([f], run_id)))
        waited = time.monotonic() - killed_at
        assert waited < 15.0
        end = frames[-1]["data"]
        assert (end["status"], end["error"]) == ("error", INTERRUPTED)
        stored = await http.get(f"/runs/{run_id}", headers=user.headers)
        assert stored.json()["status"] == "error"
        assert stored.json()["error"] == INTERRUPTED
        # The survivor stores the end after what the dead node had stored of the run (just
        # after sending it: the store write follows the stream's append).
        kept = await stored_events_until_end(http, user, run_id)
        assert [e["type"] for e in kept].count("agent_completed") == 1
        assert kept[-1]["type"] == "agent_completed"
        assert kept[-1]["offset"] == frames[-1]["offset"]
        # The next sweeps find nothing more to end: no second agent_completed.
        await watcher.send({"type": "ping"})
        await asyncio.sleep(nodes_lease_sweeps())
        await watcher.send({"type": "ping"})
        later = await watcher.until(lambda f: f.get("type") == "pong")
        later += await watcher.until(lambda f: f.get("type") == "pong")
        assert ends_of(later, run_id) == []


async def stored_events_until_end(
    http: httpx.AsyncClient, user: User, run_id: str
) -> list[dict[str, Any]]:
    """The run's stored events, once they end with its agent_completed (within 5 s)."""
    deadline = time.monotonic() + 5.0
    while True:
        kept: list[dict[str, Any]] = (
            await http.get(f"/runs/{run_id}/events", headers=user.headers)
        ).json()
        if (kept and kept[-1]["type"] == "agent_completed") or time.monotonic() > deadline:
            return kept
        await asyncio.sleep(0.05)


def nodes_lease_sweeps() -> float:
    from tests.e2e.cluster import LEASE_SECONDS

    return LEASE_SECONDS  # five sweeps of every live node


async def test_a_cancel_sent_to_any_node_ends_the_run_where_it_runs(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    runner, other = nodes.start(2)
    user = await register(http, other, "canceller")
    stranger = await new_user(http, "stranger")
    socket = await open_socket(runner, user)
    async with socket.connection:
        run_id = (await socket.chat("sleep"))["run_id"]
        await socket.until(lambda f: f.get("type") == "agent_thinking")
        refused = await http.post(f"/runs/{run_id}/cancel", headers=stranger.headers)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
        sent_at = time.monotonic()
        answer = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
        assert answer.status_code == 202, answer.text
        frames = await socket.until(lambda f: bool(ends_of([f], run_id)))
        assert time.monotonic() - sent_at < 1.0
        assert frames[-1]["data"]["status"] == "cancelled"
        again = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
        assert again.status_code == 409
        assert "already finished with status 'cancelled'" in again.json()["error"]["message"]


async def test_deleting_a_thread_on_one_node_cancels_its_run_on_another(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    runner, other = nodes.start(2)
    user = await register(http, other, "deleter")  # http talks to the other node
    socket = await open_socket(runner, user)
    async with socket.connection:
        accepted = await socket.chat("sleep")
        await socket.until(lambda f: f.get("type") == "agent_thinking")
        deleted = await http.delete(f"/threads/{accepted['thread_id']}", headers=user.headers)
        assert deleted.status_code == 204, deleted.text
        frames = await socket.until(lambda f: bool(ends_of([f], accepted["run_id"])))
        assert frames[-1]["data"]["status"] == "cancelled"
        gone = await http.get(f"/threads/{accepted['thread_id']}", headers=user.headers)
        assert gone.status_code == 404


async def test_a_users_runs_in_flight_are_limited_across_nodes(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    three = nodes.start(3)
    user = await register(http, three[0], "busy")

    async def chat(node: Node) -> int:
        async with httpx.AsyncClient(base_url=node.base_url, timeout=FRAME_TIMEOUT) as client:
            thread = await client.post("/threads", json={}, headers=user.headers)
            answer = await client.post(
                f"/threads/{thread.json()['thread_id']}/runs",
                json={"message": "sleep"},
                headers=user.headers,
            )
            return answer.status_code

    codes = await asyncio.gather(*(chat(three[i % 3]) for i in range(12)))
    assert sorted(codes) == [202] * 4 + [429] * 8


def _serve() -> list[str]:
    return [sys.executable, "-c", "from goldpath.cli import main; main()", "serve", "--port", "0"]


def test_a_second_process_on_a_sqlite_data_dir_in_use_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env["GOLDPATH_DATA_DIR"] = str(tmp_path)
    with subprocess.Popen(
        _serve(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as first:
        assert first.stdout is not None
        try:
            for line in first.stdout:  # bounded: the server prints this line or exits
                if "goldpath is running at" in line:
                    break
            files = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
            second = subprocess.run(_serve(), env=env, capture_output=True, text=True, timeout=60)
            assert second.returncode == 1
            assert second.stdout == ""
            assert second.stderr == (
                f"error: another goldpath process (pid {first.pid}) is serving {tmp_path}; "
                "stop it first, or give this one its own GOLDPATH_DATA_DIR (several processes "
                "need PostgreSQL and Redis: see docs/deploy.md)\n"
            )
            assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=30)


async def test_a_stopped_node_closes_its_sockets_1012_and_ends_its_runs_for_every_socket(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    stopping, staying = nodes.start(2)
    user = await register(http, staying, "sigterm")
    watcher = await open_socket(staying, user)
    doomed = await open_socket(stopping, user)
    async with watcher.connection:
        run_id = (await doomed.chat("sleep"))["run_id"]
        await watcher.until(lambda f: f.get("type") == "agent_thinking")
        stopping.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await doomed.until(lambda f: False)  # every frame, to the close
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        frames = await watcher.until(lambda f: bool(ends_of([f], run_id)))
        assert frames[-1]["data"]["status"] == "cancelled"
        assert stopping.wait() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
        stored = await http.get(f"/runs/{run_id}", headers=user.headers)
        assert stored.json()["status"] == "cancelled"


def test_workers_serve_one_port_as_nodes_and_stop_on_sigterm(nodes: Nodes) -> None:
    env = {k: v for k, v in nodes.env.items() if k != "PYTHONPATH"}
    refused = subprocess.run(
        [*_serve(), "--workers", "2"],
        env={k: v for k, v in env.items() if k != "GOLDPATH_REDIS_URL"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("error: --workers 2 needs PostgreSQL and Redis")
    assert refused.stderr.count("\n") == 1
    with subprocess.Popen(
        [*_serve(), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as parent:
        assert parent.stdout is not None
        try:
            url = ""
            for line in parent.stdout:  # bounded: the server prints this line or exits
                if "goldpath is running at" in line:
                    url = line.split()[4]
                    break
            assert "with 2 processes" in line
            deadline = time.monotonic() + 60
            while len(_children(parent.pid)) < 2 or not _healthy(url):
                assert time.monotonic() < deadline, "the workers did not come up"
                time.sleep(0.2)
        finally:
            parent.send_signal(signal.SIGTERM)
            parent.communicate(timeout=60)
    assert parent.returncode == 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _healthy(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/health", timeout=5).json().get("status") == "ok")
    except httpx.HTTPError:
        return False
