"""What the server benches share: the servers they start, the users and sockets they make,
and how they write their figures into docs/benchmarks.md.

Each server runs as a subprocess (``server_load.py --serve``) on 127.0.0.1 under uvicorn with
the options `goldpath serve` gives it, offline model, a fresh data directory. Users register
and log in during set-up, which is not timed: argon2 is slow by design, so the server lowers
its cost for the bench.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect

BENCH = Path(__file__).resolve().parent
DOCS = BENCH.parent / "docs" / "benchmarks.md"
PASSWORD = "server-load-password"
RECV_TIMEOUT = 60.0  # no frame for this long counts as a missing event


def raise_fd_limit() -> int:
    """1,000 sockets need more than the usual 1,024 descriptors (each side holds one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve(kind: str, port: int, data_dir: str, settings: dict[str, Any]) -> None:
    """Run in the child process: the goldpath app or the echo app under uvicorn, with the
    options `goldpath serve` gives it (`uvicorn_options`: its connection cap included) and,
    for goldpath, its collector setting."""
    raise_fd_limit()
    import uvicorn

    from goldpath.server import Settings, create_app
    from goldpath.server._serving import uvicorn_options

    chosen = Settings(
        data_dir=Path(data_dir),
        model="offline",
        password_hash_time_cost=1,  # set-up only: 2,000 argon2 hashes at the defaults
        password_hash_memory_kib=8192,  # would take minutes on two cores
        registrations_per_address=100_000,  # every bench user registers from loopback
        log_level="warning",
        **settings,
    )
    app: Any
    if kind == "echo":
        sys.path.insert(0, str(BENCH))
        from _echo_app import app
    else:
        from goldpath._gc import tune_gc

        tune_gc()  # the collector setting `goldpath serve` applies (GOLDPATH_GC_TUNING=off: not)
        app = create_app(chosen)
    if os.environ.get(TRACE_MEMORY):
        trace_memory(Path(os.environ[TRACE_MEMORY]))
    uvicorn.run(app, host="127.0.0.1", port=port, backlog=4096, **uvicorn_options(chosen))


TRACE_MEMORY = "SERVER_LOAD_TRACE_MEMORY"
"""Set in the server's environment (``--trace-memory``): a tracemalloc snapshot per SIGUSR1."""


def trace_memory(prefix: Path) -> None:
    """Trace allocations; each SIGUSR1 dumps a snapshot to ``prefix.<n>`` (debugging only:
    tracing costs memory and time of its own)."""
    import signal
    import tracemalloc

    tracemalloc.start(4)
    taken = [0]

    def dump(_signum: int, _frame: Any) -> None:
        tracemalloc.take_snapshot().dump(f"{prefix}.{taken[0]}")
        Path(f"{prefix}.{taken[0]}.done").touch()
        taken[0] += 1

    signal.signal(signal.SIGUSR1, dump)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server subprocess with its RSS and CPU time, stopped on exit."""

    def __init__(
        self,
        kind: str,
        data_dir: Path,
        settings: dict[str, Any] | None = None,
        cpus: set[int] | None = None,
        trace_memory: Path | None = None,
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (data_dir / f"{kind}.log").open("w")
        command = [sys.executable, str(BENCH / "server_load.py"), "--serve", kind]
        command += ["--port", str(self.port), "--data-dir", str(data_dir)]
        command += ["--settings", json.dumps(settings or {})]
        if cpus is not None:  # taskset execs the server: same pid, every thread pinned
            command = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]
        env = dict(os.environ, **({TRACE_MEMORY: str(trace_memory)} if trace_memory else {}))
        self._child = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.process = psutil.Process(self._child.pid)

    async def started(self) -> None:
        path = "/health" if self.kind == "goldpath" else "/"
        async with httpx.AsyncClient(base_url=self.url) as http:
            for _ in range(300):
                if self._child.poll() is not None:
                    raise RuntimeError(f"{self.kind} server exited; see {self._log.name}")
                try:
                    if (await http.get(path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start in 30 s; see {self._log.name}")

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self._child.terminate()
        try:
            self._child.wait(10)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._log.close()


async def make_users(url: str, count: int) -> list[str]:
    """Register and log in ``count`` users (set-up, not timed); their tokens."""
    limit = asyncio.Semaphore(16)

    async def one(http: httpx.AsyncClient, index: int) -> str:
        body = {"username": f"load{index:05d}", "password": PASSWORD}
        async with limit:
            made = await http.post("/auth/register", json=body)
            if made.status_code not in (201, 409):
                raise RuntimeError(f"register failed: {made.status_code} {made.text}")
            login = await http.post("/auth/login", json=body)
            login.raise_for_status()
            return str(login.json()["access_token"])

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        return list(await asyncio.gather(*(one(http, i) for i in range(count))))


async def open_sockets(url: str, tokens: list[str | None]) -> list[tuple[ClientConnection, int]]:
    """One socket per token, each past ``ready`` (goldpath) or just open (echo)."""
    ws_url = url.replace("http://", "ws://") + "/ws"
    limit = asyncio.Semaphore(100)

    async def one(token: str | None) -> tuple[ClientConnection, int]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with limit:
            ws = await connect(
                ws_url,
                additional_headers=headers,
                compression=None,
                open_timeout=60,
                ping_interval=None,
                max_queue=None,
            )
            if token is None:
                return ws, 0
            ready = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
            if ready.get("type") != "ready":
                raise RuntimeError(f"expected ready, got {ready!r}")
            return ws, int(ready["stream"]["offset"])

    return list(await asyncio.gather(*(one(token) for token in tokens)))


def versions() -> str:
    import uvicorn
    import websockets.version

    import goldpath

    extras = []
    for name in ("uvloop", "httptools"):
        try:
            module = __import__(name)
            extras.append(f"{name} {getattr(module, '__version__', '?')}")
        except ImportError:
            extras.append(f"no {name}")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"goldpath {goldpath.__version__}, Python {platform.python_version()}, uvicorn "
        f"{uvicorn.__version__} ({', '.join(extras)}), websockets {websockets.version.version}, "
        f"httpx {httpx.__version__}; {os.cpu_count()} cores ({cpu}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.system()} {platform.release()}"
    )


def write_docs(section: str, heading: str, parent: str | None = None) -> None:
    """Put ``section`` (starting with ``heading``) in place of the old one, or at the end of
    ``parent``'s section (made if missing), or of the page."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    level = "\n" + heading.split(" ", 1)[0] + " "
    start = text.find(heading + "\n")
    if start == -1:
        if parent is not None and parent + "\n" not in text:
            text = text.rstrip("\n") + "\n\n" + parent + "\n"
        where = len(text) if parent is None else text.find(parent + "\n")
        end = len(text) if parent is None else text.find("\n## ", where + len(parent))
        end = len(text) if end == -1 else end + 1
        text = text[:end].rstrip("\n") + "\n\n" + section + "\n" + text[end:]
    else:
        ends = [text.find(mark, start + len(heading)) for mark in (level, "\n## ")]
        end = min([e for e in ends if e != -1], default=-1)
        text = text[:start] + section + ("" if end == -1 else text[end:])
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
