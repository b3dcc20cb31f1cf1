"""Many WebSocket users at once against a real goldpath server, beside a bare echo ceiling.

For each user count (10, 100, 1,000 by default) every user opens ``/ws`` and runs ``--chats``
chats ("What is 17 * 23?") one after the other, all users at once. It reports p50/p99 from
sending ``chat`` to the run's first event and to its ``agent_completed``, events per second,
errors (error frames, unexpected closes, missing events, gaps in offsets, frames about
another run) and the server's RSS per idle connection. The same client then drives a bare
uvicorn WebSocket echo app (`_echo_app.py`) with the same number of frames per "chat" as a
goldpath run has events: the ceiling for events per second on this machine.

Both servers run as subprocesses of this script on 127.0.0.1 (uvicorn with `goldpath
serve`'s options, offline model, a fresh data directory; `_load_common.py`). Users register
and log in during set-up, which is not timed: argon2 is slow by design, so the bench lowers
its cost for set-up only. ``--open-loop`` and ``--idle`` are issue 16's modes (see --help).

    .venv/bin/python bench/server_load.py --users 10,100,1000 --chats 5 --write-docs
    .venv/bin/python bench/server_load.py --open-loop --users 1000 --rate 200 --write-docs
    .venv/bin/python bench/server_load.py --idle 10000 --write-docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _load_common import (
    RECV_TIMEOUT,
    Server,
    make_users,
    open_sockets,
    raise_fd_limit,
    serve,
    versions,
    write_docs,
)
from _stats import percentile
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

HEADING = "## Server load"
PROMPT = "What is 17 * 23?"
EVENTS = frozenset(
    {
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "agent_completed",
    }
)
LEVEL_TIMEOUT = 150.0  # a level that takes longer is stopped and its unfinished chats counted


# ---- the load ------------------------------------------------------------------------


@dataclass
class Level:
    """What one user count measured on one server."""

    server: str
    users: int
    chats: int
    first: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    events: int = 0
    errors: list[str] = field(default_factory=list)
    events_per_run: list[int] = field(default_factory=list)
    wall: float = 0.0
    rss_per_connection: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def error(self, what: str) -> None:
        self.errors.append(what)


async def goldpath_user(ws: ClientConnection, offset: int, level: Level) -> None:
    """``level.chats`` chats in a row, checking every frame the protocol promises."""
    for number in range(level.chats):
        ref = str(number)
        began = time.perf_counter()
        await ws.send(json.dumps({"type": "chat", "message": PROMPT, "client_msg_id": ref}))
        run_id: str | None = None
        first: float | None = None
        events = 0
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
            now = time.perf_counter()
            kind = frame.get("type")
            if kind == "run_accepted" and frame.get("client_msg_id") == ref:
                run_id = frame["run_id"]
                continue
            if kind == "error":
                level.error(f"error frame {frame.get('code')}: {frame.get('message')}")
                break
            if kind not in EVENTS:
                level.error(f"unexpected frame {kind}")
                continue
            if frame["offset"] != offset + 1:
                level.error(f"gap in offsets: {offset} then {frame['offset']}")
            offset = frame["offset"]
            if run_id is None or frame.get("run_id") != run_id:
                level.error("a frame about another run")
                continue
            events += 1
            if first is None:
                first = now - began
                if kind != "agent_started":
                    level.error(f"first event was {kind}, not agent_started")
            if kind == "agent_completed":
                if frame["data"].get("status") != "ok":
                    level.error(f"run ended {frame['data'].get('status')}")
                level.first.append(first)
                level.done.append(now - began)
                level.events += events
                level.events_per_run.append(events)
                break


def echo_user(frames: int, payload: str) -> Callable[[ClientConnection, int, Level], Any]:
    """A user that sends ``frames`` frames per "chat" and waits for as many echoes."""

    async def user(ws: ClientConnection, _offset: int, level: Level) -> None:
        for _ in range(level.chats):
            began = time.perf_counter()
            for _ in range(frames):
                await ws.send(payload)
            first: float | None = None
            for _ in range(frames):
                await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
                if first is None:
                    first = time.perf_counter() - began
            assert first is not None
            level.first.append(first)
            level.done.append(time.perf_counter() - began)
            level.events += frames

    return user


UserLoop = Callable[[ClientConnection, int, Level], Coroutine[Any, Any, None]]


async def run_level(
    server: Server, tokens: list[str | None], chats: int, user_loop: UserLoop
) -> Level:
    level = Level(server=server.kind, users=len(tokens), chats=chats)
    await asyncio.sleep(0.5)
    baseline = server.rss()
    sockets = await open_sockets(server.url, tokens)
    await asyncio.sleep(1.0)
    level.rss_per_connection = (server.rss() - baseline) / len(tokens)

    async def guarded(ws: ClientConnection, offset: int) -> None:
        try:
            await user_loop(ws, offset, level)
        except ConnectionClosed as exc:
            level.error(f"unexpected close: {exc}")
        except TimeoutError:
            level.error(f"missing event: nothing for {RECV_TIMEOUT:.0f} s")

    cpu, client_cpu, began = server.cpu(), time.process_time(), time.perf_counter()
    try:
        async with asyncio.timeout(LEVEL_TIMEOUT):
            await asyncio.gather(*(guarded(ws, offset) for ws, offset in sockets))
    except TimeoutError:
        level.error(f"level stopped after {LEVEL_TIMEOUT:.0f} s")
    level.wall = time.perf_counter() - began
    level.server_cpu = server.cpu() - cpu
    level.client_cpu = time.process_time() - client_cpu
    unfinished = len(tokens) * chats - len(level.done)
    if unfinished:
        level.error(f"{unfinished} chats did not finish")
    await asyncio.gather(*(ws.close() for ws, _ in sockets), return_exceptions=True)
    return level


# ---- the report ----------------------------------------------------------------------


def row(level: Level) -> str:
    ms = 1000.0
    rate = level.events / level.wall if level.wall else 0.0
    return (
        f"| {level.server} | {level.users:,} | {len(level.done):,} "
        f"| {percentile(level.first, 0.5) * ms:.1f} | {percentile(level.first, 0.99) * ms:.1f} "
        f"| {percentile(level.done, 0.5) * ms:.1f} | {percentile(level.done, 0.99) * ms:.1f} "
        f"| {rate:,.0f} | {len(level.errors)} | {level.rss_per_connection / 1024:.0f} "
        f"| {level.server_cpu / level.wall * 100 if level.wall else 0:.0f}% "
        f"| {level.client_cpu / level.wall * 100 if level.wall else 0:.0f}% |"
    )


def table(levels: list[Level]) -> str:
    lines = [
        "| server | users | chats done | first event p50 ms | p99 ms | completed p50 ms "
        "| p99 ms | events/s | errors | RSS/conn KiB | server CPU | client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [row(level) for level in levels]
    return "\n".join(lines)


async def bench(counts: list[int], chats: int, notes: str) -> tuple[list[Level], str]:
    levels: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="goldpath-load-") as tmp:
        server = Server("goldpath", Path(tmp))
        try:
            await server.started()
            began = time.perf_counter()
            tokens = await make_users(server.url, max(counts))
            setup = time.perf_counter() - began
            print(f"set-up: {max(counts)} users registered and logged in in {setup:.1f} s")
            for count in counts:
                level = await run_level(server, list(tokens[:count]), chats, goldpath_user)
                print(row(level), *sorted(set(level.errors))[:5], sep="\n  ", flush=True)
                levels.append(level)
        finally:
            server.stop()
        per_run = statistics.mode([n for level in levels for n in level.events_per_run] or [10])
        payload = json.dumps({"type": "message_delta", "offset": 0, "data": {"delta": "x" * 120}})
        echo = Server("echo", Path(tmp))
        try:
            await echo.started()
            for count in counts:
                level = await run_level(echo, [None] * count, chats, echo_user(per_run, payload))
                print(row(level), *sorted(set(level.errors))[:5], sep="\n  ", flush=True)
                levels.append(level)
        finally:
            echo.stop()
    return levels, f"{per_run} events per run{notes}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", default="10,100,1000", help="user counts, comma-separated")
    parser.add_argument("--chats", type=int, default=5, help="chats per user, one after another")
    parser.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md")
    modes = parser.add_argument_group("issue 16: open loop and idle connections")
    modes.add_argument(
        "--open-loop",
        action="store_true",
        help="open loop: the largest --users count sends chats at random, --rate in all",
    )
    modes.add_argument("--rate", type=float, default=200.0, help="chats/s offered, all users")
    modes.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    modes.add_argument("--warm-up", type=float, default=10.0, help="seconds sent, not measured")
    modes.add_argument(
        "--idle", type=int, metavar="N", help="idle mode: N authenticated /ws, 20 per user"
    )
    modes.add_argument("--rounds", type=int, default=1, help="rounds, each on a fresh server")
    modes.add_argument(
        "--pin", action="store_true", help="server on CPU 0, this client on CPU 1 (taskset)"
    )
    modes.add_argument(
        "--trace-memory", action="store_true", help="idle mode: tracemalloc diff in the server"
    )
    parser.add_argument("--serve", choices=["goldpath", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.data_dir, json.loads(args.settings))
        return
    limit = raise_fd_limit()
    counts = [int(part) for part in args.users.split(",")]
    sockets = args.idle or 2 * max(counts)
    if sockets + 64 > limit:
        raise SystemExit(f"{sockets:,} sockets need as many descriptors; limit {limit}")
    command = ".venv/bin/python bench/server_load.py " + shlex.join(sys.argv[1:])
    if args.open_loop or args.idle:
        import _issue16

        _issue16.main(args, max(counts), command)
        return
    started = time.perf_counter()
    levels, per_run = asyncio.run(bench(counts, args.chats, ""))
    took = time.perf_counter() - started
    print(table(levels), f"\n{per_run}; whole bench {took:.0f} s")
    if args.write_docs:
        write_docs(render_section(levels, per_run, command, took), HEADING)


EPILOG = """\
Issue 16's modes (each writes its part of the section "Open-loop latency and idle
connections (issue 16)" with --write-docs):
  --open-loop  1,000 users (the largest --users count) each send a chat at random
               (exponential gaps, --rate chats/s offered in all) for --warm-up then
               --duration seconds; times run from each chat's scheduled send time, so a
               slow server or client cannot hide latency (no coordinated omission).
               The client shares the machine's 2 cores with the server: its CPU is
               reported beside the server's; --pin puts them on separate cores.
  --idle N     N idle authenticated /ws connections (20 per user, the per-user cap):
               the server's RSS before and after, KiB per connection, idle CPU.
"""


def verdict(levels: list[Level]) -> str:
    """The three goals, each met or missed by how much, from the largest user count."""
    top = max(level.users for level in levels)
    ours = next(lv for lv in levels if lv.server == "goldpath" and lv.users == top)
    echo = next(lv for lv in levels if lv.server == "echo" and lv.users == top)
    p99 = percentile(ours.first, 0.99) * 1000
    rate, ceiling = ours.events / ours.wall, echo.events / echo.wall
    marks = {True: "met", False: "missed"}
    return (
        f"Goals at {top:,} users: 0 errors: {marks[not ours.errors]} ({len(ours.errors)}); "
        f"p99 first event under 50 ms: {marks[p99 < 50]} ({p99:,.0f} ms, "
        f"{p99 / 50:,.1f}x the goal); within 2x of the echo's events/s: "
        f"{marks[ceiling <= 2 * rate]} ({rate:,.0f} vs {ceiling:,.0f}, {ceiling / rate:,.1f}x)."
    )


def render_section(levels: list[Level], per_run: str, command: str, took: float) -> str:
    return (
        f"{HEADING}\n\n{ABOUT}\n\n{table(levels)}\n\n{verdict(levels)}\n\n"
        f"{per_run}; {versions()}.\nCommand: `{command}` (whole run {took:.0f} s).\n\n"
        f"{ANALYSIS}\n"
    )


ABOUT = """\
`bench/server_load.py`: N users at once, each on its own `/ws`, each running its chats
("What is 17 * 23?", offline model) one after another; the server is `create_app` under
uvicorn with `goldpath serve`'s options, in its own process, on a fresh SQLite data dir. The
same client then drives `bench/_echo_app.py`, a bare ASGI echo under the same uvicorn, with as
many frames per "chat" as a goldpath run has events: the ceiling. Times are from sending
`chat` (or the first echo frame) to the run's first event and to `agent_completed` (or the
last echo). Errors count error frames, unexpected closes, missing events, offset gaps and
frames about another run. RSS/conn is the server's RSS with N idle sockets minus before,
over N. CPU columns are process CPU time over wall time (100% = one core; the machine has
two, shared by the server and the one-process client). Set-up (register + log in every
user) is not timed, and the bench lowers argon2's cost for it (t=1, 8 MiB): at the defaults
2,000 hashes take minutes on two cores, by design. Neither side uses permessage-deflate
(the client does not ask; both servers run with `goldpath serve`'s
`ws_per_message_deflate=False`)."""

ANALYSIS = """\
### Where the time goes

The server is CPU-bound: one process, one core's worth of Python (the GIL), ~90% busy at
every user count, so events/s is about 10 / (server CPU per chat) and the time to the first
event is queueing behind the other users' chats. The profile (`py-spy record --gil`, raw
stacks, on the bench's server under 100 users x 30 chats; shares of the server's samples
turned into time per chat with its CPU time) before and after this round of work:

| component | before: 9.4 ms/chat | after change 2: 2.4 ms/chat |
|---|---:|---:|
| SQLAlchemy's async layer on the event loop (greenlet bridge, statements, results) | 3.1 ms | - |
| awaiting aiosqlite's thread (one hop per cursor call, ~36 per `start_run`) | 1.6 ms | - |
| event loop, futures, thread wake-ups | 2.0 ms | 0.4 ms |
| SQLite + SQLAlchemy in the store's threads | 0.6 ms | 0.8 ms |
| goldpath.store on the loop (building statements) | 0.4 ms | 0.05 ms |
| uvicorn + websockets: framing and socket writes (1 frame in, 11 out) | 0.4 ms | 0.3 ms |
| goldpath.events (envelope, timestamp, JSON once) | 0.15 ms | 0.25 ms |
| engine, agent, tools, offline model | 0.3 ms | 0.2 ms |
| goldpath.server (ws.py, _runs.py), goldpath.stream, json | 0.5 ms | 0.25 ms |
| pydantic frame parsing, logging | < 0.05 ms | < 0.05 ms |

(py-spy's attribution around C code is rough: read the rows as proportions.)

What changed, each measured with this bench at 1,000 users, two runs each:
1. The store runs each SQLite transaction whole on a thread of its own with `sqlite3` (one
   writer thread, which also queues this process's writers; four readers) instead of
   aiosqlite's hop to its thread for every cursor call, and builds the chat path's
   statements once. The store alone, one chat's four transactions: 8.4-11 -> 2.4-3.1 ms of
   CPU. Events/s 1,155 and 1,238 -> 2,292 and 2,384; p99 first event 7.0 and 5.9 s -> 3.3
   and 3.2 s.
2. One transaction before `agent_started` instead of three: `store.start_chat` makes the
   thread (or checks it is the user's), reads only its last 100 messages, and saves the run
   and the user's message. Events/s -> 3,351 and 3,507; p99 first event -> 1.9 and 1.9 s.
3. `goldpath serve` no longer grants permessage-deflate, which browsers ask for: with a
   client that asks (100 users x 10 chats) server CPU per chat 2.8-3.0 -> 2.4 ms and RSS
   per connection 56-82 -> 20-42 KiB. This bench's client never asks, so its rows do not
   show it.
4. The SQLite writer thread keeps its connection: no pool check-out, check-in and reset per
   transaction (a write ~10% cheaper with the store alone). With `--users 1000`, two runs:
   3,698 and 3,839 events/s, p99 first event 1.76 and 1.69 s.

Tried and left: uvicorn's `websockets` implementation instead of `websockets-sansio` (the
same within noise; wsproto is not installed). Frame parsing and logging are each under 1%
of the server's CPU, so the pydantic path and the log calls are unchanged.

Goals still missed, and why. 0 errors: met. Events/s: 7-9x below the echo, not 2x; within
2x would need ~0.7 ms of server CPU per chat, and the two write transactions the protocol
needs (the run before its events, the answer before `agent_completed`) cost ~0.8 ms here on
their own, before the engine, the events and 11 socket writes. p99 first event under 50 ms
at 1,000 users: missed by 35-40x, and out of reach of the echo too (its p99 first frame at
1,000 users is a few hundred ms): with 1,000 users each sending the next chat at once, a
chat waits for the ~1,000 ahead of it, so 50 ms would take ~20,000 chats/s in one process.
What could move it further, outside this round: the per-event cost in the core runtime
(events and engine, ~0.45 ms per run here), and more processes: with PostgreSQL for the
store and `GOLDPATH_REDIS_URL` for the user streams any process serves any user, so a
machine's cores add up (this bench runs one process; a multi-process run is not measured
here yet).

Noise: the machine's two cores are shared by the server, the client and other jobs, so
figures move between runs, the echo's most (13,000-32,000 events/s in this session's runs)."""


if __name__ == "__main__":
    main()
