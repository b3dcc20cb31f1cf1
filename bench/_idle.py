"""Idle connections for `server_load.py`: what each authenticated ``/ws`` costs the server
in memory while it does nothing, and whether idle sockets cost it CPU.

The server's RSS is read after a few connections have come and gone (so first-use costs,
lazy imports and warmed caches, are in the baseline), then with every connection open and
past ``ready``, then again after they all closed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

SETTLE = 2.0  # seconds for the server to finish its work on the sockets before RSS is read
IDLE = 10.0  # seconds the connections sit idle while the server's CPU is measured

Opener = Callable[[list[str | None]], Awaitable[list[tuple[ClientConnection, int]]]]


@dataclass
class Idle:
    """One round: the server's RSS before, with the connections open, and after they closed."""

    connections: int
    users: int
    before: int = 0
    open: int = 0
    closed: int = 0
    opening: float = 0.0  # seconds to open them all
    idle_cpu: float = 0.0  # server CPU seconds over `IDLE` seconds with them all open
    load: float = 0.0

    @property
    def per_connection(self) -> float:
        """Bytes of server RSS per open connection."""
        return (self.open - self.before) / self.connections


async def idle_connections(
    server: Any,
    tokens: list[str],
    connections: int,
    per_user: int,
    opener: Opener,
    trace: Path | None,
) -> Idle:
    """Open ``connections`` sockets, ``per_user`` for each token, and read the server's RSS."""
    wanted: list[str | None] = [token for token in tokens for _ in range(per_user)]
    wanted = wanted[:connections]
    result = Idle(connections=len(wanted), users=len(tokens))
    warm = await opener(wanted[:50])
    await asyncio.gather(*(ws.close() for ws, _ in warm))
    await asyncio.sleep(SETTLE)
    await snapshot(server, trace, 0)
    result.before = server.rss()
    began = asyncio.get_running_loop().time()
    sockets = await opener(wanted)
    result.opening = asyncio.get_running_loop().time() - began
    await asyncio.sleep(SETTLE)
    result.open = server.rss()
    await snapshot(server, trace, 1)
    cpu = server.cpu()
    await asyncio.sleep(IDLE)
    result.idle_cpu = server.cpu() - cpu
    result.load = os.getloadavg()[0]
    await asyncio.gather(*(ws.close() for ws, _ in sockets), return_exceptions=True)
    await asyncio.sleep(SETTLE)
    result.closed = server.rss()
    if trace is not None:
        print_growth(trace, result.connections)
    return result


async def snapshot(server: Any, trace: Path | None, number: int) -> None:
    """Ask a server started with ``--trace-memory`` for its snapshot ``number``, and wait
    until it is written (the server's loop stands still meanwhile)."""
    if trace is None:
        return
    server.process.send_signal(signal.SIGUSR1)  # see _load_common.trace_memory
    await asyncio.to_thread(wait_for, Path(f"{trace}.{number}.done"))


def wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server wrote no {path.name} in {timeout:.0f} s: see its log")
        time.sleep(0.1)


def print_growth(trace: Path, connections: int, top: int = 30) -> None:
    """What grew between the two snapshots, per connection: by file, then by allocating line
    (with the three calls above it)."""
    before = tracemalloc.Snapshot.load(f"{trace}.0")
    after = tracemalloc.Snapshot.load(f"{trace}.1")
    by_file = after.compare_to(before, "filename")
    total = sum(stat.size_diff for stat in by_file)
    print(f"traced Python allocations: {total / connections / 1024:.1f} KiB per connection")
    for stat in by_file[:12]:
        name = "/".join(Path(stat.traceback[0].filename).parts[-2:])
        print(f"  {stat.size_diff / connections:8.0f} B/conn  {name}")
    for stat in after.compare_to(before, "traceback")[:top]:
        calls = " <- ".join(
            f"{Path(frame.filename).name}:{frame.lineno}" for frame in reversed(stat.traceback)
        )
        print(
            f"  {stat.size_diff / connections:8.0f} B/conn {stat.count_diff / connections:5.1f}"
            f" blocks/conn  {calls}"
        )


def table(rounds: list[Idle]) -> str:
    """One row per round and, with more than one, the median of each column."""
    lines = [
        "| round | connections | users | RSS before MiB | RSS open MiB | KiB/connection "
        "| RSS after closing MiB | opening s | idle server CPU | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mib = 2**20
    rows = [
        [
            r.connections,
            r.users,
            r.before / mib,
            r.open / mib,
            r.per_connection / 1024,
            r.closed / mib,
            r.opening,
            r.idle_cpu / IDLE,
            r.load,
        ]
        for r in rounds
    ]
    named = [(str(number), values) for number, values in enumerate(rows, 1)]
    if len(rows) > 1:
        named.append(("median", [statistics.median(column) for column in zip(*rows, strict=True)]))
    for name, v in named:
        lines.append(
            f"| {name} | {v[0]:,.0f} | {v[1]:,.0f} | {v[2]:.0f} | {v[3]:.0f} | {v[4]:.1f} "
            f"| {v[5]:.0f} | {v[6]:.1f} | {v[7]:.1%} | {v[8]:.1f} |"
        )
    return "\n".join(lines)
