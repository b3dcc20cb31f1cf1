"""What offering a tool that needs approval costs every run, even runs that never call it.

A run whose tool set holds a ``requires_approval`` tool records each model answer and tool
result (`can_pause` in ``engine/_engine.py``), so that it could be continued after a pause.
This measures that cost: the engine's CPU time per run in one process, the default
server's workload ("What is 17 * 23?" to the offline model, the built-in tools and
``supervisor``: one calculator call, 10 events), with the built-in tools alone and with
the notes demo added (its ``delete_note`` requires approval), in alternating blocks so that
the machine's load falls on both alike. Each round prints both figures; the summary gives
medians and the median of the paired differences::

    flock /work/wt/bench.lock .venv/bin/python bench/approval_overhead.py --runs 500 --rounds 41
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from goldpath.context import UserExecutionContext
from goldpath.engine import RunLimits
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import OfflineModel
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, NoteBook, Tool

QUESTION = "What is 17 * 23?"
ANSWER = "17 * 23 = 391."


async def block(tools: tuple[Tool, ...], runs: int) -> float:
    """CPU ms per run over ``runs`` runs on a fresh factory."""
    factory = ExecutionEngineFactory(
        streams=InMemoryStreamHub(),
        model=OfflineModel(),
        tools=tools,
        limits=RunLimits(max_runs_per_user=10**6),
    )
    started = time.process_time()
    for index in range(runs):
        context = UserExecutionContext.create(f"user{index % 100}", "thread")
        outcome = await factory.create_for_user(context).run("supervisor", QUESTION)
        if outcome.text != ANSWER:
            raise SystemExit(f"a run answered {outcome.text!r}, not {ANSWER!r}")
    return (time.process_time() - started) / runs * 1000


async def measure(runs: int, rounds: int) -> None:
    plain, pausable = BUILTIN_TOOLS, (*BUILTIN_TOOLS, *NoteBook().tools())
    await block(plain, runs // 4)  # warm-up
    await block(pausable, runs // 4)
    without: list[float] = []
    with_: list[float] = []
    for number in range(rounds):
        # Alternate which goes first, so a trend in the load favours neither.
        order = ((plain, without), (pausable, with_))
        for tools, into in order if number % 2 == 0 else reversed(order):
            into.append(await block(tools, runs))
        print(f"round {number + 1}: without {without[-1]:.4f} ms, with {with_[-1]:.4f} ms")
    differences = [b - a for a, b in zip(without, with_, strict=True)]
    base = statistics.median(without)
    extra = statistics.median(differences)
    print(
        f"median CPU per run: without {base:.4f} ms, with {statistics.median(with_):.4f} ms; "
        f"median paired difference {extra * 1000:+.1f} µs ({extra / base:+.1%} of the engine's)"
    )
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="runs per block")
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    asyncio.run(measure(args.runs, args.rounds))


if __name__ == "__main__":
    main()
