"""What several processes cost: one load generator against three deployments.

1. one process on the embedded defaults (SQLite file, in-memory streams);
2. one process on PostgreSQL + Redis;
3. two processes on PostgreSQL + Redis (``goldpath serve --workers 2``, one port).

Each is a real ``goldpath serve`` (offline model) started by this script. ``--users``
users each hold one ``/ws`` and run ``--chats`` chats ("What is 17 * 23?") one after the
other, all users at once. Reported per deployment, as the median of ``--rounds`` rounds:
chats per second, p99 time from sending ``chat`` to the run's first event, the servers' CPU
per chat (every server process, user + system) and the generator's own CPU per chat (it
shares the machine). Users are made during set-up, not timed (argon2 costs are lowered).

PostgreSQL and Redis are the local ones (127.0.0.1:5432 trust, 127.0.0.1:6379); the script
makes its own database and key prefix and removes both.

    .venv/bin/python bench/cluster_load.py --users 100 --chats 5 --rounds 3 --write-docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import ClientConnection, connect

BENCH = Path(__file__).resolve().parent
DOCS = BENCH.parent / "docs" / "benchmarks.md"
HEADING = "## Cluster load"
PROMPT = "What is 17 * 23?"
PASSWORD = "cluster-load-password"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
RECV_TIMEOUT = 60.0


@dataclass
class Round:
    chats: int = 0
    errors: int = 0
    first: list[float] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def chats_per_second(self) -> float:
        return self.chats / self.wall if self.wall else 0.0


@dataclass
class Deployment:
    name: str
    workers: int
    services: bool
    rounds: list[Round] = field(default_factory=list)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def _procs() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process, from /proc."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((int(entry.name), int(stat[1]), command))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _admin(statement: str) -> None:
    admin = create_async_engine(
        f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = f"goldpath_bench_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Serve:
    """``goldpath serve`` as a subprocess; its server processes for CPU accounting."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        command = [sys.executable, "-c", "from goldpath.cli import main; main()", "serve"]
        command += ["--port", "0", "--workers", str(workers)]
        self._log = log.open("w+")
        self._child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        assert self._child.stdout is not None
        for line in self._child.stdout:
            found = re.search(r"running at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise RuntimeError(f"goldpath serve did not start; see {log}")
        self.workers = workers

    def processes(self) -> list[int]:
        """The pids serving: the process itself, or the supervisor's worker processes."""
        if self.workers == 1:
            return [self._child.pid]
        return [
            pid
            for pid, parent, command in _procs()
            if parent == self._child.pid and "spawn_main" in command
        ]

    async def ready(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(600):
                try:
                    healthy = (await http.get(f"{self.url}/health")).status_code == 200
                    if healthy and (self.workers == 1 or len(self.processes()) == self.workers):
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("the server did not become healthy")

    def cpu(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.processes())

    def stop(self) -> None:
        self._child.terminate()
        try:
            self._child.wait(60)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._log.close()


async def make_users(url: str, count: int) -> list[str]:
    limit = asyncio.Semaphore(8)

    async def one(http: httpx.AsyncClient, index: int) -> str:
        body = {"username": f"cl{secrets.token_hex(4)}{index}", "password": PASSWORD}
        async with limit:
            (await http.post("/auth/register", json=body)).raise_for_status()
            login = await http.post("/auth/login", json=body)
            login.raise_for_status()
            return str(login.json()["access_token"])

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        return list(await asyncio.gather(*(one(http, i) for i in range(count))))


async def user(ws: ClientConnection, chats: int, result: Round) -> None:
    for number in range(chats):
        began = time.perf_counter()
        await ws.send(json.dumps({"type": "chat", "message": PROMPT, "client_msg_id": str(number)}))
        run_id = None
        first = None
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
            kind = frame.get("type")
            if kind == "run_accepted":
                run_id = frame["run_id"]
            elif kind == "error":
                result.errors += 1
                break
            elif frame.get("run_id") == run_id and "offset" in frame:
                if first is None:
                    first = time.perf_counter() - began
                if kind == "agent_completed":
                    if frame["data"]["status"] != "ok":
                        result.errors += 1
                    result.first.append(first)
                    result.chats += 1
                    break


async def one_round(server: Serve, tokens: list[str], chats: int) -> Round:
    ws_url = server.url.replace("http://", "ws://") + "/ws"
    sockets = []
    for token in tokens:
        ws = await connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {token}"},
            compression=None,
            ping_interval=None,
            open_timeout=60,
        )
        await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)  # ready
        sockets.append(ws)
    result = Round()
    server_before, client_before = server.cpu(), _own_cpu()
    began = time.perf_counter()
    await asyncio.gather(*(user(ws, chats, result) for ws in sockets))
    result.wall = time.perf_counter() - began
    result.server_cpu = server.cpu() - server_before
    result.client_cpu = _own_cpu() - client_before
    for ws in sockets:
        await ws.close()
    return result


async def run(deployment: Deployment, users: int, chats: int, rounds: int) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    with tempfile.TemporaryDirectory(prefix="goldpath-cluster-load-") as tmp:
        env = {
            **base,
            "GOLDPATH_DATA_DIR": tmp,
            "GOLDPATH_SECRET_KEY": secrets.token_urlsafe(48),
            "GOLDPATH_PASSWORD_HASH_TIME_COST": "1",
            "GOLDPATH_PASSWORD_HASH_MEMORY_KIB": "1024",
            "GOLDPATH_REGISTRATIONS_PER_ADDRESS": "100000",
            "GOLDPATH_MESSAGES_PER_MINUTE": "100000",
            "GOLDPATH_LOG_LEVEL": "warning",
        }
        prefix = f"goldpath-bench-{secrets.token_hex(6)}:"
        async with database() as url:
            if deployment.services:
                env |= {
                    "GOLDPATH_DATABASE_URL": url,
                    "GOLDPATH_REDIS_URL": REDIS_URL,
                    "GOLDPATH_REDIS_PREFIX": prefix,
                }
            server = Serve(env, deployment.workers, Path(tmp) / "serve.log")
            try:
                await server.ready()
                tokens = await make_users(server.url, users)
                await one_round(server, tokens[: max(1, users // 10)], 1)  # warm-up
                for _ in range(rounds):
                    deployment.rounds.append(await one_round(server, tokens, chats))
            finally:
                server.stop()
                client = redis.Redis.from_url(REDIS_URL)
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
                client.close()


def row(d: Deployment) -> str:
    chats = statistics.median(r.chats for r in d.rounds)
    rate = statistics.median(r.chats_per_second for r in d.rounds)
    first = statistics.median(p99(r.first) for r in d.rounds) * 1000
    server = statistics.median(r.server_cpu / max(1, r.chats) for r in d.rounds) * 1000
    client = statistics.median(r.client_cpu / max(1, r.chats) for r in d.rounds) * 1000
    errors = sum(r.errors for r in d.rounds)
    return (
        f"| {d.name} | {chats:.0f} | {rate:,.0f} | {first:,.0f} | {server:.2f} | "
        f"{client:.2f} | {errors} |"
    )


def render(deployments: list[Deployment], command: str, busy: str) -> str:
    one = statistics.median(r.chats_per_second for r in deployments[1].rounds)
    two = statistics.median(r.chats_per_second for r in deployments[2].rounds)
    lines = [
        HEADING,
        "",
        f"`{command}` (each figure the median of the rounds; {busy}).",
        "",
        "| deployment | chats a round | chats/s | p99 first event (ms) | server CPU per chat "
        "(ms) | generator CPU per chat (ms) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(row(d) for d in deployments),
        "",
        f"Two processes / one process on PostgreSQL + Redis: **{two / one:.2f}×** chats/s, on "
        f"{os.cpu_count()} cores shared with the generator (whose own CPU per chat is in the "
        "table) and with whatever else ran on the machine.",
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    text_ = DOCS.read_text(encoding="utf-8")
    start = text_.find(HEADING + "\n")
    if start == -1:
        text_ = text_.rstrip("\n") + "\n\n" + section
    else:
        end = text_.find("\n## ", start + len(HEADING))
        text_ = text_[:start] + section + ("" if end == -1 else text_[end + 1 :])
    DOCS.write_text(text_, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--chats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    deployments = [
        Deployment("1 process, embedded (SQLite, in-memory streams)", 1, False),
        Deployment("1 process, PostgreSQL + Redis", 1, True),
        Deployment("2 processes, PostgreSQL + Redis (`--workers 2`)", 2, True),
    ]
    load = os.getloadavg()[0]
    for deployment in deployments:
        asyncio.run(run(deployment, args.users, args.chats, args.rounds))
        print(row(deployment), flush=True)
    busy = (
        f"load average {load:.1f} on {os.cpu_count()} cores when it began: the machine "
        "was busy with other work, so compare the rows with each other, not with other runs"
    )
    command = "python bench/cluster_load.py " + " ".join(sys.argv[1:])
    section = render(deployments, command, busy)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
