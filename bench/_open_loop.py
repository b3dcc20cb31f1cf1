"""Open-loop latency for `server_load.py`: chats sent on a schedule that never waits for answers.

Each user sends chats at random, on its own (exponential gaps), so together the users offer a
Poisson stream of ``rate`` chats per second whatever the server does. A chat's times run from
its *scheduled* send time, not from when the client got to send it: a late client or a socket
that blocked counts against the latency instead of hiding it (coordinated omission).

The client is kept lean, since it shares the machine with the server: one event loop, one
sender task walking the merged schedule, one reader per socket, and no JSON parsing of
events (a frame's type and run id are sliced out of the compact frame; only ``run_accepted``
and ``error`` are parsed).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _stats import percentile
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

PREFIX = '{"type":"'
RUN_ID = '"run_id":"'
CHAT = '{"type":"chat","message":"What is 17 * 23?","client_msg_id":"%d"}'
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
DRAIN_TIMEOUT = 30.0  # after the last send, chats still unanswered after this are unfinished


@dataclass
class OpenLoop:
    """One open-loop round: the measured window's chats (after the warm-up) and its costs."""

    users: int
    rate: float
    duration: float
    warm_up: float
    scheduled: int = 0
    first: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)
    unfinished: int = 0
    errors: list[str] = field(default_factory=list)
    window: float = 0.0  # from the window's start to its last answer
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and end

    @property
    def achieved(self) -> float:
        """Chats answered per second over the window's schedule."""
        return len(self.done) / self.duration


def schedule(users: int, rate: float, span: float, seed: int) -> list[tuple[float, int]]:
    """(send time, user) for every chat in ``[0, span)``, in time order: each user's gaps are
    exponential with mean ``users / rate`` seconds."""
    rng = random.Random(seed)
    per_user = rate / users
    plan = []
    for user in range(users):
        at = rng.expovariate(per_user)
        while at < span:
            plan.append((at, user))
            at += rng.expovariate(per_user)
    plan.sort()
    return plan


async def open_loop(
    sockets: list[ClientConnection],
    rate: float,
    duration: float,
    warm_up: float,
    server_cpu: Callable[[], float],
    seed: int = 16,
) -> OpenLoop:
    """Send the schedule over ``sockets`` (each past ``ready``) and time every chat."""
    result = OpenLoop(users=len(sockets), rate=rate, duration=duration, warm_up=warm_up)
    plan = schedule(len(sockets), rate, warm_up + duration, seed)
    count = len(plan)
    due = [0.0] * count  # perf_counter times, set when the schedule starts
    sent = [0.0] * count
    first = [0.0] * count
    done = [0.0] * count
    by_run: dict[str, int] = {}
    outstanding = [count]
    finished = asyncio.Event()
    errors = result.errors

    def answered() -> None:
        outstanding[0] -= 1
        if not outstanding[0]:
            finished.set()

    async def read(ws: ClientConnection) -> None:
        try:
            async for text in ws:
                now = time.perf_counter()
                assert isinstance(text, str)
                if text.startswith(PREFIX):
                    kind = text[9 : text.index('"', 9)]
                else:
                    kind = json.loads(text).get("type")
                if kind in EVENTS:
                    start = text.index(RUN_ID) + 10
                    index = by_run.get(text[start : text.index('"', start)], -1)
                    if index < 0:
                        errors.append("an event of a run this client did not start")
                        continue
                    if not first[index]:
                        first[index] = now
                        if kind != "agent_started":
                            errors.append(f"first event was {kind}, not agent_started")
                    if kind == "agent_completed":
                        done[index] = now
                        if '"status":"ok"' not in text:
                            errors.append("a run did not end ok")
                        answered()
                elif kind == "run_accepted":
                    frame = json.loads(text)
                    by_run[frame["run_id"]] = int(frame["client_msg_id"])
                elif kind == "error":
                    frame = json.loads(text)
                    errors.append(f"error frame {frame.get('code')}: {frame.get('message')}")
                    if frame.get("ref") is not None:
                        answered()
                else:
                    errors.append(f"unexpected frame {kind}")
        except ConnectionClosed as exc:
            errors.append(f"unexpected close: {exc}")

    async def send() -> None:
        for index, (_at, user) in enumerate(plan):
            wait = due[index] - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            sent[index] = time.perf_counter()
            await sockets[user].send(CHAT % index)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    began = time.perf_counter() + 0.1
    for index, (at, _user) in enumerate(plan):
        due[index] = began + at
    window_start = began + warm_up
    sender = asyncio.create_task(send())
    await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
    cpu, client_cpu = server_cpu(), time.process_time()
    result.load = (os.getloadavg()[0], 0.0)
    await sender
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            await finished.wait()
    except TimeoutError:
        errors.append(f"chats unanswered {DRAIN_TIMEOUT:.0f} s after the last send")
    measured = [i for i in range(count) if due[i] >= window_start]
    last = max((done[i] for i in measured if done[i]), default=window_start)
    result.window = last - window_start
    result.server_cpu = server_cpu() - cpu
    result.client_cpu = time.process_time() - client_cpu
    result.load = (result.load[0], os.getloadavg()[0])
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    result.scheduled = len(measured)
    for i in measured:
        result.send_lag.append(sent[i] - due[i])
        if done[i]:
            result.first.append(first[i] - due[i])
            result.done.append(done[i] - due[i])
        else:
            result.unfinished += 1
    return result


COLUMNS = (
    ("offered chats/s", "{:,.0f}"),
    ("achieved chats/s", "{:,.0f}"),
    ("first event p50 ms", "{:.1f}"),
    ("p99 ms", "{:.1f}"),
    ("max ms", "{:.0f}"),
    ("completed p50 ms", "{:.1f}"),
    ("p99 ms", "{:.1f}"),
    ("max ms", "{:.0f}"),
    ("send lag p99 ms", "{:.1f}"),
    ("unfinished", "{:.0f}"),
    ("errors", "{:.0f}"),
    ("server CPU ms/chat", "{:.2f}"),
    ("server CPU", "{:.0%}"),
    ("client CPU ms/chat", "{:.2f}"),
    ("client CPU", "{:.0%}"),
    ("load", "{:.1f}"),
)


def figures(result: OpenLoop) -> list[float]:
    """One round's figures, in `COLUMNS` order (times in ms; CPU shares of one core)."""
    ms, chats, window = 1000.0, max(1, len(result.done)), max(result.window, 1e-9)
    return [
        result.scheduled / result.duration,
        result.achieved,
        percentile(result.first, 0.5) * ms,
        percentile(result.first, 0.99) * ms,
        max(result.first, default=float("nan")) * ms,
        percentile(result.done, 0.5) * ms,
        percentile(result.done, 0.99) * ms,
        max(result.done, default=float("nan")) * ms,
        percentile(result.send_lag, 0.99) * ms,
        result.unfinished,
        len(result.errors),
        result.server_cpu / chats * ms,
        result.server_cpu / window,
        result.client_cpu / chats * ms,
        result.client_cpu / window,
        max(result.load),
    ]


def table(rounds: list[OpenLoop]) -> str:
    """One row per round and, with more than one, the median of each column."""
    lines = [
        "| round | " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|---:|" + "---:|" * len(COLUMNS),
    ]
    rows = [figures(result) for result in rounds]
    named = [(str(number), values) for number, values in enumerate(rows, 1)]
    if len(rows) > 1:
        named.append(("median", [statistics.median(column) for column in zip(*rows, strict=True)]))
    for name, values in named:
        cells = (form.format(value) for (_, form), value in zip(COLUMNS, values, strict=True))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
