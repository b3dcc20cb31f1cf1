"""Redis faults under real nodes: a Redis that stalls (SIGSTOP) and one restarted empty.

The nodes use a redis-server this test starts on its own port (never the shared one). No
run stays ``running``, and every socket of the user gets ``resync`` or the whole run.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.cluster import Node, cluster
from tests.e2e.conftest import FRAME_TIMEOUT, User, WsClient
from tests.e2e.test_cluster import open_socket, register

pytestmark = pytest.mark.e2e

STALL_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OwnRedis:
    """A redis-server of this test alone, without persistence: a restart empties it."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    try:
        subprocess.run(["redis-server", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("redis-server is not installed")
    server = OwnRedis(_free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.signal(signal.SIGCONT)
        server.kill()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=FRAME_TIMEOUT) as client:
        yield client


async def resync_or_end(client: WsClient, run_id: str) -> str:
    """Read until this socket is told ``resync`` or sees the run's end; which one."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frame = await client.recv()
            frames.append(frame)
            if frame["type"] == "resync":
                return "resync"
            if frame["type"] == "agent_completed" and frame["run_id"] == run_id:
                return "whole run"
    except ConnectionClosed:
        return "closed"  # its client reconnects and resumes: checked by the caller


async def ended(http: httpx.AsyncClient, node: Node, user: User, run_id: str) -> str:
    """The run's stored status, once it is no longer ``running``."""
    deadline = time.monotonic() + 30
    while True:
        run = (await http.get(f"{node.base_url}/runs/{run_id}", headers=user.headers)).json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return str(run["status"])
        await asyncio.sleep(0.2)


async def test_a_stalled_and_an_emptied_redis_leave_no_silent_hole(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    with (
        own_redis(tmp_path) as redis_server,
        cluster(tmp_path, redis_url=redis_server.url) as nodes,
    ):
        runner, watcher_node = nodes.start(2)
        user = await register(http, watcher_node, "faults")

        # Redis stops answering for 20 s while a run streams.
        watcher, sender = await open_socket(watcher_node, user), await open_socket(runner, user)
        run_id = (await sender.chat("slow 400"))["run_id"]
        await watcher.until(lambda f: f.get("type") == "message_delta")
        redis_server.signal(signal.SIGSTOP)
        stopped = time.monotonic()
        health = await http.get(f"{watcher_node.base_url}/health")
        assert (health.status_code, health.json()["status"]) == (503, "degraded")
        await asyncio.sleep(max(0.0, STALL_SECONDS - (time.monotonic() - stopped)))
        redis_server.signal(signal.SIGCONT)
        outcomes = {await resync_or_end(watcher, run_id), await resync_or_end(sender, run_id)}
        await watcher.connection.close()
        await sender.connection.close()
        assert outcomes <= {"resync", "whole run"}, outcomes
        assert await ended(http, watcher_node, user, run_id) == "error"
        health = await http.get(f"{watcher_node.base_url}/health")
        assert health.json()["status"] == "ok"

        # Redis is restarted empty while a run streams.
        watcher, sender = await open_socket(watcher_node, user), await open_socket(runner, user)
        run_id = (await sender.chat("slow 400"))["run_id"]
        await watcher.until(lambda f: f.get("type") == "message_delta")
        redis_server.kill()
        redis_server.start()
        outcomes = {await resync_or_end(watcher, run_id), await resync_or_end(sender, run_id)}
        await watcher.connection.close()
        await sender.connection.close()
        assert outcomes <= {"resync", "whole run"}, outcomes
        assert await ended(http, watcher_node, user, run_id) in ("error", "ok")
