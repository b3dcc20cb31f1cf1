"""Issue 16's server figures, run by ``server_load.py --open-loop`` and ``--idle N``.

Each round starts a fresh goldpath server (embedded defaults: SQLite, in-memory streams,
offline model without delay), makes its users (not timed), measures, and stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
from collections.abc import Coroutine
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import _idle
import _open_loop
from _load_common import Server, make_users, open_sockets, versions, write_docs
from _stats import percentile

SECTION = "## Open-loop latency and idle connections (issue 16)"
OPEN_HEADING = "### Open loop (`--open-loop`)"
IDLE_HEADING = "### Idle connections (`--idle`)"
PER_USER = 20  # the server's default cap of connections per user (max_connections_per_user)
T = TypeVar("T")
CLOSED_LOOP_P99 = "1,677 ms"  # `## Server load`, 1,000 users back to back, before issue 16


def main(args: argparse.Namespace, users: int, command: str) -> None:
    if args.pin:
        os.sched_setaffinity(0, {1})  # the server gets CPU 0 (`Server(cpus=...)`)
    started = time.perf_counter()
    if args.open_loop:
        rounds = run(open_loop_rounds(args, users))
        print(_open_loop.table(rounds))
        if args.write_docs:
            took = time.perf_counter() - started
            write_docs(render_open_loop(rounds, args, command, took), OPEN_HEADING, SECTION)
    if args.idle:
        idle = run(idle_rounds(args))
        print(_idle.table(idle))
        if args.write_docs:
            took = time.perf_counter() - started
            write_docs(render_idle(idle, command, took), IDLE_HEADING, SECTION)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run the client on uvloop when it is installed: the leaner loop leaves the server more
    of the machine."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


def start(tmp: str, args: argparse.Namespace, trace: Path | None = None) -> Server:
    return Server("goldpath", Path(tmp), cpus={0} if args.pin else None, trace_memory=trace)


async def open_loop_rounds(args: argparse.Namespace, users: int) -> list[_open_loop.OpenLoop]:
    rounds = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="goldpath-open-loop-") as tmp:
            server = start(tmp, args)
            try:
                await server.started()
                tokens = await make_users(server.url, users)
                opened = await open_sockets(server.url, list(tokens))
                result = await _open_loop.open_loop(
                    [ws for ws, _ in opened],
                    args.rate,
                    args.duration,
                    args.warm_up,
                    server.cpu,
                    seed=16 + number,
                )
                await asyncio.gather(*(ws.close() for ws, _ in opened), return_exceptions=True)
            finally:
                server.stop()
        print(_open_loop.table([result]), *sorted(set(result.errors))[:5], sep="\n  ", flush=True)
        rounds.append(result)
    return rounds


async def idle_rounds(args: argparse.Namespace) -> list[_idle.Idle]:
    rounds = []
    users = math.ceil(args.idle / PER_USER)
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="goldpath-idle-") as tmp:
            trace = Path(tmp) / "snapshot" if args.trace_memory else None
            server = start(tmp, args, trace)
            try:
                await server.started()
                tokens = await make_users(server.url, users)
                result = await _idle.idle_connections(
                    server, tokens, args.idle, PER_USER, partial(open_sockets, server.url), trace
                )
            finally:
                server.stop()
        print(_idle.table([result]), flush=True)
        rounds.append(result)
    return rounds


def mark(met: bool) -> str:
    return "met" if met else "missed"


def render_open_loop(
    rounds: list[_open_loop.OpenLoop], args: argparse.Namespace, command: str, took: float
) -> str:
    first = statistics.median(percentile(r.first, 0.99) * 1000 for r in rounds)
    done = statistics.median(percentile(r.done, 0.99) * 1000 for r in rounds)
    pinned = (
        "the server pinned to CPU 0 and the client to CPU 1 (`--pin`, taskset)"
        if args.pin
        else "server and client unpinned, sharing both cores"
    )
    return (
        f"{OPEN_HEADING}\n\n{OPEN_ABOUT}\n\n{_open_loop.table(rounds)}\n\n"
        f"Goals on one process (median of the rounds' p99): first event <= 50 ms: "
        f"{mark(first <= 50)} ({first:,.1f} ms); completed <= 100 ms: {mark(done <= 100)} "
        f"({done:,.1f} ms). Before: {CLOSED_LOOP_P99} p99 first event with 1,000 users "
        f"sending back to back (closed loop, [Server load](#server-load)).\n\n"
        f"{rounds[0].users:,} users, {args.rate:g} chats/s "
        f"offered, {args.warm_up:g} s warm-up then {args.duration:g} s measured per round; "
        f"{pinned}; {versions()}.\nCommand: `{command}` (whole run {took:.0f} s).\n"
    )


def render_idle(rounds: list[_idle.Idle], command: str, took: float) -> str:
    per = statistics.median(r.per_connection / 1024 for r in rounds)
    return (
        f"{IDLE_HEADING}\n\n{IDLE_ABOUT}\n\n{_idle.table(rounds)}\n\n"
        f"Goal: <= 20 KiB of server RSS per idle connection: {mark(per <= 20)} "
        f"({per:.1f} KiB, median of the rounds).\n\n{versions()}.\n"
        f"Command: `{command}` (whole run {took:.0f} s).\n"
    )


OPEN_ABOUT = """\
Each of the users holds one authenticated `/ws` and sends a chat ("What is 17 * 23?") at
random, on its own: exponential gaps, mean users / rate seconds, so the server is offered a
Poisson stream of chats whatever it answers (open loop). Every time is measured from the
chat's *scheduled* send time, so a late client or a blocked socket adds to the latency
rather than hiding it (no coordinated omission); *send lag* is how late the client itself
sent (its share of the latency). *Achieved* counts the window's chats that completed, over
the window. CPU per chat is process CPU time (user + system) over the window's completed
chats; the CPU shares are of one core. The client is one uvloop event loop in one process
(one sender walking the merged schedule, one reader per socket, no JSON parsing of events)
and shares the machine's two cores with the server: its own CPU is the *client CPU*
columns. The server is one `create_app` process under uvicorn with `goldpath serve`'s
options, on the embedded defaults (a fresh SQLite file, in-memory streams, the offline
model with no delay); set-up (registering the users, argon2 lowered) is not timed. *Load*
is the machine's 1-minute load average, the higher of the window's start and end."""

IDLE_ABOUT = """\
N authenticated `/ws` connections, 20 per user (the default per-user cap; N = 10,000 is
also the default `GOLDPATH_MAX_CONNECTIONS`, so nothing is raised), opened 100 at a time,
each past `ready`, then left idle. *KiB/connection* is the server's RSS with them all open
minus its RSS before, over N; the baseline is read after 50 connections came and went, so
first-use costs are not counted per connection. *RSS after closing* shows what the process
keeps once they are gone. *Idle server CPU* is the server's CPU over 10 s with all of them
open: uvicorn's keep-alive pings (every 20 s per connection, its default; the client answers
them) are most of it."""
