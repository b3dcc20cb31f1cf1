"""Steady state (issue 16): goldpath's engine in a process whose streams' history is full,
beside a young process, for `engine_overhead.py --steady`.

A long-lived server keeps, for every user, the last ``history_events`` events or those
of the last ``history_seconds`` (whichever is more) for ``resume``. Ten real minutes of
this benchmark's load would hold every user at the cap (ten times the count): it runs
far more often than a person chats. The steady phase simulates the full history by the
count bound instead: ``--history-seconds 0`` (the default here) keeps exactly the last
``--history-events`` per user, and the phase runs rounds of ``--concurrency`` runs (one
per user) until every user's history is full, then measures ``--repeats`` windows of
``--window`` rounds. A young process connects the users, runs one warm-up round and
measures one window: a fresh process for each young window, since history grows by every
window it runs. Each window gives runs/s, CPU ms per run, GC share (wall time inside the
collector, timed with ``gc.callbacks``; and its thread CPU time over the process's), full
collections, GC-tracked objects (``len(gc.get_objects())``) at its end, and the process's
peak RSS. ``--gc-tuned`` applies, in both kinds of process, the collector setting
``goldpath serve`` applies (``goldpath._gc.tune_gc``).

``--steady-processes`` times: ``--repeats`` young processes, then one steady process; the
figures are medians over every window of each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _workers import run_worker

HERE = Path(__file__).resolve().parent
TARGET_TPUT_RATIO = 0.9
TARGET_GC_SHARE = 0.05
WORKER_TIMEOUT_S = 600.0


class _GenClock:
    """Wall time inside the cyclic GC, and the number of full collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.full = 0
        self._started = self._cpu = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started, self._cpu = time.perf_counter(), time.thread_time()
        else:
            self.seconds += time.perf_counter() - self._started
            self.cpu += time.thread_time() - self._cpu
            self.full += info["generation"] == 2


async def phase(args: argparse.Namespace, steady: bool) -> dict[str, Any]:
    """One process: fill the history (steady) or not (young), then measure the windows."""
    sys.path.insert(0, str(HERE))
    from _peers_goldpath import GoldpathBench
    from engine_overhead import _check, _run_many

    if args.gc_tuned:
        from goldpath._gc import tune_gc

        tune_gc({})
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    users = args.concurrency
    bench = GoldpathBench(
        max_users=users,
        history_events=args.history_events,
        history_seconds=args.history_seconds,
    )
    await bench.prepare()
    done = 0

    async def round_() -> None:
        nonlocal done
        for result in await _run_many(bench.run_once, users, start=done):
            _check(result, "goldpath")
        done += users

    await round_()  # warm-up: every user has run once
    fill_rounds = 0
    if steady:
        started = time.perf_counter()
        while min(bench.hub.for_user(f"user-{i}").latest_offset for i in range(users)) < (
            args.history_events
        ):
            await round_()
            fill_rounds += 1
        fill_s = time.perf_counter() - started
        await _check_full(bench, args.history_events)
    windows: list[dict[str, float]] = []
    for _ in range(args.repeats):
        clock = _GenClock()
        gc.callbacks.append(clock)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.window):
            await round_()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        gc.callbacks.remove(clock)
        runs = args.window * users
        windows.append(
            {
                "tput": runs / wall,
                "cpu_ms": cpu / runs * 1000,
                "gc_share": clock.seconds / wall,
                "gc_cpu_share": clock.cpu / cpu,
                "full_gcs": clock.full,
                "objects": len(gc.get_objects()),
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    await bench.close()
    figures: dict[str, Any] = {"windows": windows, "fill_rounds": fill_rounds}
    if steady:
        figures["fill_s"] = fill_s
    return figures


async def _check_full(bench: Any, kept: int) -> None:
    """Every user's stream answers a resume from ``kept`` events back: the history is full."""
    from goldpath.stream import Replay

    for user in ("user-0", f"user-{len(bench._connections) - 1}"):
        stream = bench.hub.for_user(user)
        answer = await stream.read_after(stream.epoch, stream.latest_offset - kept)
        if not isinstance(answer, Replay) or len(answer.events) != kept:
            raise SystemExit(f"{user}'s history does not hold {kept} events: {answer!r}")


def worker(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(phase(args, steady=args.phase == "steady"))))


def _spawn(kind: str, args: argparse.Namespace, repeats: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "engine_overhead.py"),
        "--worker",
        "goldpath",
        "--phase",
        kind,
        "--concurrency",
        str(args.concurrency),
        "--repeats",
        str(repeats),
        "--window",
        str(args.window),
        "--history-events",
        str(args.history_events),
        "--history-seconds",
        str(args.history_seconds),
        "--gc-threshold",
        str(args.gc_threshold),
        *(["--gc-tuned"] if args.gc_tuned else []),
    ]
    return run_worker(command, f"goldpath {kind}", WORKER_TIMEOUT_S)


def _median(windows: list[dict[str, float]], key: str) -> float:
    return statistics.median(w[key] for w in windows)


def run(args: argparse.Namespace) -> None:
    """Young and steady processes, interleaved; the medians, the ratio and the targets."""
    load = os.getloadavg()
    collector = "goldpath serve's (goldpath/_gc.py)" if args.gc_tuned else "Python's default"
    if args.gc_threshold:
        collector += f", gen0 threshold {args.gc_threshold}"
    seen: dict[str, list[dict[str, float]]] = {"young": [], "steady": []}
    fills: list[str] = []
    plan = (["young"] * args.repeats + ["steady"]) * args.steady_processes
    for kind in plan:
        found = _spawn(kind, args, args.repeats if kind == "steady" else 1)
        seen[kind] += found["windows"]
        if kind == "steady":
            fills.append(f"{found['fill_rounds']} rounds in {found['fill_s']:.0f} s")
        brief = ", ".join(
            f"{w['tput']:,.0f} runs/s {w['cpu_ms']:.3f} ms CPU GC {w['gc_share']:.0%} "
            f"({w['full_gcs']} full, {w['gc_cpu_share']:.0%} of CPU) {w['objects']:,} objects "
            f"peak RSS {w['rss_mib']:.0f} MiB"
            for w in found["windows"]
        )
        print(f"  {kind:<6} {brief}", flush=True)
    print(
        f"\nload average at start {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}; "
        f"{args.concurrency} users, history {args.history_events} events / "
        f"{args.history_seconds:g} s per user; fill: {'; '.join(fills)}; "
        f"collector: {collector}\n"
    )
    print(
        "| process | runs/s | CPU ms/run | GC share | GC share of CPU | full GCs/window "
        "| GC objects | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, windows in seen.items():
        print(
            f"| {kind} | {_median(windows, 'tput'):,.0f} | {_median(windows, 'cpu_ms'):.3f} | "
            f"{_median(windows, 'gc_share'):.1%} | {_median(windows, 'gc_cpu_share'):.1%} | "
            f"{_median(windows, 'full_gcs'):.0f} | {_median(windows, 'objects'):,.0f} | "
            f"{_median(windows, 'rss_mib'):.0f} |"
        )
    young, steady = seen["young"], seen["steady"]
    ratio = _median(steady, "tput") / _median(young, "tput")
    cpu_ratio = _median(steady, "cpu_ms") / _median(young, "cpu_ms")
    share = _median(steady, "gc_share")
    print(f"\nsteady / young: runs/s {ratio:.2f}, CPU ms/run {cpu_ratio:.2f}")
    verdict = "met" if ratio >= TARGET_TPUT_RATIO else "MISSED"
    print(f"- {verdict}: steady throughput within 10% of a young process ({ratio:.2f})")
    verdict = "met" if share < TARGET_GC_SHARE else "MISSED"
    print(f"- {verdict}: GC share at {args.concurrency} concurrent runs under 5% ({share:.1%})")
