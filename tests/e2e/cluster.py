"""Real goldpath nodes in their own processes, sharing one PostgreSQL and one Redis.

`Nodes` starts `tests.e2e.node` processes with short leases, so a dead node's runs are
ended in seconds, and stops each at the end of the test (SIGKILL if it must).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.e2e.conftest import TEST_SECRET
from tests.services import (
    POSTGRES_URL,
    REDIS_HOST,
    REDIS_PORT,
    postgres_database,
    require_service,
)

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3.0


@dataclass
class Node:
    process: subprocess.Popen[str]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)


@dataclass
class Nodes:
    """Starts nodes on one environment; every node is stopped when the block ends."""

    env: dict[str, str]
    started: list[Node] = field(default_factory=list)

    def start(self, count: int = 1, **overrides: str) -> list[Node]:
        """``count`` nodes, started side by side (each takes seconds to import)."""
        env = {**self.env, **overrides}
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.node"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        started = []
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()  # the port, or "" if it failed
            node = Node(process, int(line.split()[1]) if line.startswith("port ") else 0)
            self.started.append(node)
            if not node.port:
                process.kill()
                _, err = process.communicate()
                raise RuntimeError(f"a node did not start: {err[-2000:]!r}")
            started.append(node)
        return started

    def stop_all(self) -> None:
        for node in self.started:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.started:
            try:
                node.process.wait(20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
            for stream in (node.process.stdout, node.process.stderr):
                if stream is not None:
                    stream.close()


def node_env(database_url: str, redis_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env.update(
        {
            "GOLDPATH_DATA_DIR": str(data_dir),
            "GOLDPATH_DATABASE_URL": database_url,
            "GOLDPATH_REDIS_URL": redis_url,
            "GOLDPATH_REDIS_PREFIX": prefix,
            "GOLDPATH_SECRET_KEY": TEST_SECRET,
            "GOLDPATH_LEASE_SECONDS": str(LEASE_SECONDS),
            "GOLDPATH_PASSWORD_HASH_TIME_COST": "1",
            "GOLDPATH_PASSWORD_HASH_MEMORY_KIB": "1024",
            "GOLDPATH_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


@contextmanager
def cluster(
    data_dir: Path, *, redis_url: str | None = None, extra: Mapping[str, str] | None = None
) -> Iterator[Nodes]:
    """Nodes on a fresh PostgreSQL database and a fresh Redis prefix (the shared Redis unless
    ``redis_url`` names a test's own), both removed afterwards."""
    if redis_url is None:
        require_service("Redis", REDIS_HOST, REDIS_PORT)
    url = redis_url or f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    prefix = f"goldpath-test-{secrets.token_hex(6)}:"
    with postgres_database() as database_name:
        database_url = f"{POSTGRES_URL}/{database_name}"
        nodes = Nodes({**node_env(database_url, url, prefix, data_dir), **(extra or {})})
        try:
            yield nodes
        finally:
            nodes.stop_all()
            client = redis.Redis.from_url(url, socket_timeout=5)
            try:
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
            except redis.RedisError:
                pass  # a test's own Redis, stopped already
            finally:
                client.close()
