"""Engine overhead: goldpath against its peers on one workload, in one run.

Every framework runs the same zero-latency model: one ``calculator`` call ("17 * 23"), then
a 20-token streamed answer, its events consumed through the framework's own streaming API
(see ``_peers_*.py``). Each run's final text is checked; a wrong run stops the benchmark.

Measured for each framework, each phase in its own fresh subprocess so that one heap does
not distort another:

1. ``seq``: median wall ms and CPU ms per run over ``--runs`` sequential runs (after warm-up);
2. ``tput``: runs/s with ``--concurrency`` runs in flight in one process (median of
   ``--repeats``), with the share of wall time spent in the cyclic GC;
3. ``mem``: KiB per in-flight run, ``--concurrency`` runs held at a barrier after their tool
   call (tracemalloc delta, RSS delta, GC-tracked objects);
4. cold import time of each framework's top-level package (median of ``--import-repeats``);
5. for goldpath, a profile (cProfile of sequential runs, tracemalloc's top allocation sites
   at the barrier), so a regression shows where it comes from.

Run it with the bench environment (see bench/requirements.txt)::

    /work/bench-venv/bin/python bench/engine_overhead.py --runs 2000 --concurrency 1000 --write-docs

``--steady`` measures goldpath alone in a process whose streams' history is full, beside a
young process (issue 16; see ``_steady.py``)::

    .venv/bin/python bench/engine_overhead.py --steady --concurrency 1000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import json
import os
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import _steady
from _workers import run_worker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Engine overhead"

FRAMEWORKS: dict[str, str] = {
    "goldpath": "_peers_goldpath",
    "pydantic-ai": "_peers_pydantic_ai",
    "openai-agents": "_peers_openai_agents",
    "langgraph": "_peers_langgraph",
}
EXTRA_VERSIONS = ("langchain-core", "openai", "pydantic")
WORKER_TIMEOUT_S = 240.0

TARGET_RATIO = 10.0
TARGET_RUN_MS = 1.0
TARGET_RUNS_PER_S = 1000.0
TARGET_KIB = 8.0
TARGET_IMPORT_S = 0.3


# --------------------------------------------------------------------------- worker side


class GcClock:
    """Adds up the wall time spent inside the cyclic GC, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _load(framework: str) -> ModuleType:
    sys.path.insert(0, str(HERE))
    return importlib.import_module(FRAMEWORKS[framework])


def _check(result: Any, framework: str) -> None:
    """A benchmark that does not check its output measures nothing: stop on a wrong run."""
    from _peers_common import EXPECTED_TEXT, TOOL_RESULT

    if result.text != EXPECTED_TEXT:
        raise SystemExit(f"{framework}: wrong final text {result.text!r}")
    if result.tool_result is not None and result.tool_result != TOOL_RESULT:
        raise SystemExit(f"{framework}: wrong tool result {result.tool_result!r}")
    if result.events < 20:
        raise SystemExit(f"{framework}: only {result.events} events were streamed")


async def _run_many(run_once: Callable[[int], Any], count: int, start: int = 0) -> list[Any]:
    tasks = [asyncio.create_task(run_once(start + i)) for i in range(count)]
    return list(await asyncio.gather(*tasks))


async def phase_seq(framework: str, runs: int, warmup: int) -> dict[str, Any]:
    """Sequential runs: the cost of one run with nothing else going on."""
    run_once, keep = _load(framework).build(gated=False, concurrency=1)
    for i in range(warmup):
        _check(await run_once(i), framework)
    gc.collect()
    durations: list[float] = []
    events = 0
    cpu0 = time.process_time()
    with GcClock() as clock:
        wall0 = time.perf_counter()
        for i in range(runs):
            started = time.perf_counter()
            result = await run_once(warmup + i)
            durations.append(time.perf_counter() - started)
            _check(result, framework)
            events = result.events
        wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    await _close(keep)
    durations.sort()
    return {
        "seq_ms": statistics.median(durations) * 1000,
        "seq_p90_ms": durations[int(len(durations) * 0.9)] * 1000,
        "seq_cpu_ms": cpu / runs * 1000,
        "seq_gc_share": clock.seconds / wall,
        "events": events,
        "seq_runs": runs,
    }


async def phase_tput(framework: str, concurrency: int, repeats: int) -> dict[str, Any]:
    """``concurrency`` runs at once, ``repeats`` times: throughput and GC share."""
    run_once, keep = _load(framework).build(gated=False, concurrency=concurrency)
    for result in await _run_many(run_once, min(concurrency, 100)):
        _check(result, framework)
    rates: list[float] = []
    shares: list[float] = []
    collections: list[int] = []
    for repeat in range(repeats):
        gc.collect()
        with GcClock() as clock:
            started = time.perf_counter()
            results = await _run_many(run_once, concurrency, start=(repeat + 1) * concurrency)
            wall = time.perf_counter() - started
        for result in results:
            _check(result, framework)
        del results
        rates.append(concurrency / wall)
        shares.append(clock.seconds / wall)
        collections.append(clock.collections)
    await _close(keep)
    middle = sorted(range(repeats), key=lambda k: rates[k])[repeats // 2]
    return {
        "tput": rates[middle],
        "tput_all": rates,
        "tput_gc_share": shares[middle],
        "tput_gc_collections": collections[middle],
    }


async def _hold(run_once: Callable[[int], Any], concurrency: int, start: int) -> list[Any]:
    """Start ``concurrency`` runs and return once every one waits at the gate."""
    from _peers_common import GATE

    GATE.close(concurrency)
    tasks = [asyncio.create_task(run_once(start + i)) for i in range(concurrency)]
    await asyncio.wait_for(GATE.arrivals(), timeout=120)
    return tasks


async def _finish(tasks: list[Any], framework: str) -> None:
    from _peers_common import GATE

    GATE.release()
    for result in await asyncio.gather(*tasks):
        _check(result, framework)


async def phase_mem(framework: str, concurrency: int, top: int) -> dict[str, Any]:
    """Memory of runs in flight, held at the barrier after their tool call.

    Pass 1 measures RSS and GC-tracked objects without tracemalloc (which inflates RSS);
    pass 2 measures tracemalloc's delta, and for goldpath its top allocation sites.
    """
    import psutil

    run_once, keep = _load(framework).build(gated=True, concurrency=concurrency)
    process = psutil.Process()
    for result in await _run_many(run_once, min(concurrency, 100)):  # warm-up
        _check(result, framework)
    prepare = getattr(keep, "prepare", None)
    if prepare is not None:  # goldpath: connect every user before the runs start
        await prepare()

    gc.collect()
    rss0, objects0 = process.memory_info().rss, len(gc.get_objects())
    tasks = await _hold(run_once, concurrency, start=concurrency)
    gc.collect()
    rss1, objects1 = process.memory_info().rss, len(gc.get_objects())
    await _finish(tasks, framework)
    del tasks

    gc.collect()
    tracemalloc.start(1)
    base = tracemalloc.get_traced_memory()[0]
    before = tracemalloc.take_snapshot() if top else None
    tasks = await _hold(run_once, concurrency, start=2 * concurrency)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    sites: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    if before is not None:
        after = tracemalloc.take_snapshot()
        for stat in after.compare_to(before, "filename")[:top]:
            files.append(
                {
                    "file": _short(stat.traceback[0].filename),
                    "bytes_per_run": stat.size_diff / concurrency,
                    "blocks_per_run": stat.count_diff / concurrency,
                }
            )
        for stat in after.compare_to(before, "lineno")[:top]:
            frame = stat.traceback[0]
            sites.append(
                {
                    "site": f"{_short(frame.filename)}:{frame.lineno}",
                    "bytes_per_run": stat.size_diff / concurrency,
                    "blocks_per_run": stat.count_diff / concurrency,
                }
            )
    tracemalloc.stop()
    await _finish(tasks, framework)
    await _close(keep)
    return {
        "mem_kib": (held - base) / concurrency / 1024,
        "mem_rss_kib": (rss1 - rss0) / concurrency / 1024,
        "mem_objects": (objects1 - objects0) / concurrency,
        "mem_sites": sites,
        "mem_files": files,
    }


async def phase_profile(framework: str, runs: int, top: int) -> dict[str, Any]:
    """cProfile of sequential runs: which functions the run's time goes to."""
    run_once, keep = _load(framework).build(gated=False, concurrency=1)
    for i in range(50):
        _check(await run_once(i), framework)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(runs):
        await run_once(50 + i)
    profiler.disable()
    await _close(keep)
    stats = pstats.Stats(profiler)
    entries: list[tuple[str, float, float, int]] = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(value[2] for value in raw.values())
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        where = f"{_short(filename)}:{line}({name})" if line else name
        entries.append((where, tottime, cumtime, calls))
    entries.sort(key=lambda e: e[1], reverse=True)
    return {
        "profile_total_ms": total / runs * 1000,
        "profile": [
            {
                "function": where,
                "share": tottime / total,
                "us_per_run": tottime / runs * 1e6,
                "cum_us_per_run": cumtime / runs * 1e6,
                "calls_per_run": calls / runs,
            }
            for where, tottime, cumtime, calls in entries[:top]
        ],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3" else tail
    return Path(filename).name


async def _close(keep: Any) -> None:
    close = getattr(keep, "close", None)
    if close is not None and asyncio.iscoroutinefunction(close):
        await close()


def worker(args: argparse.Namespace) -> None:
    """One phase of one framework; prints one JSON line for the parent."""
    name, phase = args.worker, args.phase
    if phase in ("young", "steady"):
        _steady.worker(args)
        return
    if phase == "seq":
        coro = phase_seq(name, args.runs, args.warmup)
    elif phase == "tput":
        coro = phase_tput(name, args.concurrency, args.repeats)
    elif phase == "mem":
        coro = phase_mem(name, args.concurrency, args.top if name == "goldpath" else 0)
    else:
        coro = phase_profile(name, args.profile_runs, args.top)
    print(json.dumps(asyncio.run(coro)))


# --------------------------------------------------------------------------- parent side


@dataclass
class Row:
    """Every figure of one framework."""

    name: str
    version: str
    figures: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.figures[key]


def _spawn(framework: str, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    peer = framework != "goldpath"
    concurrency = (
        min(args.concurrency, args.peer_held) if peer and phase == "mem" else args.concurrency
    )
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        framework,
        "--phase",
        phase,
        "--runs",
        str(args.runs if framework == "goldpath" else min(args.runs, args.peer_runs)),
        "--warmup",
        str(args.warmup),
        "--concurrency",
        str(concurrency),
        "--repeats",
        str(min(args.repeats, args.peer_repeats) if peer else args.repeats),
        "--top",
        str(args.top),
        "--profile-runs",
        str(args.profile_runs),
    ]
    return run_worker(command, f"{framework} {phase}", WORKER_TIMEOUT_S)


def measure_imports(frameworks: Sequence[str], repeats: int) -> dict[str, float]:
    """Median wall time of ``python -c "<import>"`` minus ``python -c pass``, interleaved.

    One untimed round first, so every ``.pyc`` exists: this is a cold process, not a cold disk.
    """
    statements = {name: _load(name).IMPORT for name in frameworks}
    statements["(python -c pass)"] = "pass"
    samples: dict[str, list[float]] = {name: [] for name in statements}
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(HERE)}
    for round_ in range(repeats + 1):
        for name, statement in statements.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True, env=env)
            if round_:
                samples[name].append(time.perf_counter() - started)
    baseline = statistics.median(samples.pop("(python -c pass)"))
    return {name: max(0.0, statistics.median(s) - baseline) for name, s in samples.items()}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_all(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Every phase of every framework, back to back, each in a fresh subprocess."""
    rows: list[Row] = []
    for name in args.frameworks:
        module = _load(name)
        figures: dict[str, Any] = {}
        for phase in ("seq", "tput", "mem"):
            started = time.perf_counter()
            found = _spawn(name, phase, args)
            figures.update(found)
            brief = ", ".join(
                f"{key} {value:.3f}" for key, value in found.items() if isinstance(value, float)
            )
            print(
                f"  {name:<14} {phase:<5} {time.perf_counter() - started:6.1f} s  {brief}",
                flush=True,
            )
        rows.append(Row(name, _version(module.DISTRIBUTION), figures))
    started = time.perf_counter()
    imports = measure_imports(args.frameworks, args.import_repeats)
    print(f"  imports              {time.perf_counter() - started:6.1f} s", flush=True)
    for row in rows:
        row.figures["import_s"] = imports[row.name]
    profile: dict[str, Any] = {}
    if "goldpath" in args.frameworks and args.top:
        profile = _spawn("goldpath", "profile", args)
    return rows, profile


def table(rows: Sequence[Row]) -> str:
    """The results as a Markdown table, with goldpath's ratio to each peer."""
    goldpath = next((r for r in rows if r.name == "goldpath"), None)
    header = (
        "| framework | version | events/run | ms/run (median) | CPU ms/run | runs/s (concurrent) | "
        "GC share (concurrent) | KiB/run in flight (tracemalloc) | KiB/run (RSS) | "
        "GC objects/run | import s |"
    )
    lines = [header, "|" + "---|" * 11]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.version} | {row['events']} | {row['seq_ms']:.3f} | "
            f"{row['seq_cpu_ms']:.3f} | {row['tput']:,.0f} | {row['tput_gc_share']:.0%} | "
            f"{row['mem_kib']:.1f} | {row['mem_rss_kib']:.1f} | {row['mem_objects']:.0f} | "
            f"{row['import_s']:.3f} |"
        )
    if goldpath is not None:
        lines.append("")
        lines.append(
            "goldpath's figure as a fraction of each peer's (lower is better for goldpath):"
        )
        lines.append("")
        lines.append("| peer | ms/run | CPU ms/run | runs/s (peer / goldpath) | KiB/run | import |")
        lines.append("|---|---|---|---|---|---|")
        for row in rows:
            if row is goldpath:
                continue
            lines.append(
                f"| {row.name} | {goldpath['seq_ms'] / row['seq_ms']:.3f} | "
                f"{goldpath['seq_cpu_ms'] / row['seq_cpu_ms']:.3f} | "
                f"{row['tput'] / goldpath['tput']:.3f} | "
                f"{goldpath['mem_kib'] / row['mem_kib']:.3f} | "
                f"{goldpath['import_s'] / max(row['import_s'], 1e-9):.3f} |"
            )
    return "\n".join(lines)


def verdicts(rows: Sequence[Row]) -> list[str]:
    """Each of goldpath's targets: met or missed, and by how much."""
    goldpath = next((r for r in rows if r.name == "goldpath"), None)
    peers = [r for r in rows if r.name != "goldpath"]
    if goldpath is None:
        return []
    out: list[str] = []

    def say(ok: bool, what: str, detail: str) -> None:
        out.append(f"- {'met' if ok else 'MISSED'}: {what} ({detail})")

    if peers:
        fastest = min(peers, key=lambda r: r["seq_ms"])
        limit = min(fastest["seq_ms"] / TARGET_RATIO, TARGET_RUN_MS)
        say(
            goldpath["seq_ms"] <= limit,
            f"per-run overhead at most 1/{TARGET_RATIO:g} of the fastest peer and under "
            f"{TARGET_RUN_MS:g} ms",
            f"goldpath {goldpath['seq_ms']:.3f} ms, fastest peer {fastest.name} "
            f"{fastest['seq_ms']:.3f} ms, so the limit is {limit:.3f} ms; ratio "
            f"1/{fastest['seq_ms'] / goldpath['seq_ms']:.1f}",
        )
    say(
        goldpath["tput"] >= TARGET_RUNS_PER_S,
        f"at least {TARGET_RUNS_PER_S:,.0f} runs/s at the benchmark's concurrency",
        f"{goldpath['tput']:,.0f} runs/s",
    )
    say(
        goldpath["mem_kib"] <= TARGET_KIB,
        f"at most {TARGET_KIB:g} KiB per in-flight run",
        f"{goldpath['mem_kib']:.1f} KiB (tracemalloc)",
    )
    say(
        goldpath["import_s"] < TARGET_IMPORT_S,
        f"`import goldpath` under {TARGET_IMPORT_S:g} s",
        f"{goldpath['import_s']:.3f} s",
    )
    return out


def profile_text(rows: Sequence[Row], profile: dict[str, Any]) -> str:
    """goldpath's top functions (cProfile) and allocation sites in flight (tracemalloc)."""
    goldpath = next((r for r in rows if r.name == "goldpath"), None)
    if goldpath is None or not profile:
        return ""
    lines = [
        "### Where goldpath's time and memory go",
        "",
        f"cProfile of {profile['runs']} sequential runs ({profile['profile_total_ms']:.3f} ms of "
        "profiled time per run, inflated by the profiler), top functions by own time:",
        "",
        "| function | share of own time | µs/run own | µs/run cumulative | calls/run |",
        "|---|---|---|---|---|",
    ]
    for entry in profile["profile"]:
        lines.append(
            f"| `{entry['function']}` | {entry['share']:.1%} | {entry['us_per_run']:.1f} | "
            f"{entry['cum_us_per_run']:.1f} | {entry['calls_per_run']:.1f} |"
        )
    lines += [
        "",
        "tracemalloc, top allocation sites still alive per in-flight run at the barrier "
        f"(of {goldpath['mem_kib']:.1f} KiB):",
        "",
        "| site | bytes/run | blocks/run |",
        "|---|---|---|",
    ]
    for site in goldpath["mem_sites"]:
        lines.append(
            f"| `{site['site']}` | {site['bytes_per_run']:.0f} | {site['blocks_per_run']:.1f} |"
        )
    lines += ["", "The same, by file:", "", "| file | bytes/run | blocks/run |", "|---|---|---|"]
    for entry in goldpath["mem_files"]:
        lines.append(
            f"| `{entry['file']}` | {entry['bytes_per_run']:.0f} | {entry['blocks_per_run']:.1f} |"
        )
    lines += [
        "",
        "(`engine_overhead.py` and `_peers_goldpath.py` are the harness: the task made for "
        "each run, its future and id strings; tracemalloc charges a coroutine's frame to the "
        "line that calls it, so they also hold the frames of `engine.run` and the context "
        "manager. The peers' figures include the same harness.)",
    ]
    return "\n".join(lines)


def environment(args: argparse.Namespace) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    extras = ", ".join(f"{d} {_version(d)}" for d in EXTRA_VERSIONS)
    load = ", ".join(f"{x:.1f}" for x in args.load)
    return [
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; asyncio "
        "default event loop.",
        f"- Also installed: {extras}.",
        f"- Sequential runs: {args.runs} for goldpath, {min(args.runs, args.peer_runs)} for "
        f"each peer, after {args.warmup} warm-up runs. Concurrent: {args.concurrency} runs at "
        f"once, median of {args.repeats} repeats for goldpath and "
        f"{min(args.repeats, args.peer_repeats)} for each peer. In flight: "
        f"{args.concurrency} runs held for goldpath, {min(args.concurrency, args.peer_held)} "
        "for each peer. Imports: median of "
        f"{args.import_repeats}. The peers' caps keep the benchmark near 5 minutes: at "
        f"{args.concurrency} concurrent runs each peer manages only tens of runs/s, so a "
        "repeat takes it about a minute; their per-run memory does not depend on the count "
        "(raise `--peer-repeats` and `--peer-held` for the full measure).",
        f"- Load average (1, 5, 15 min) when the benchmark started: {load} on "
        f"{os.cpu_count()} cores (other work shares the machine).",
    ]


METHOD = """\
Workload (the same for every framework): a zero-latency model that asks for one
`calculator` call with `"17 * 23"`, then streams a 20-token answer. Each peer's model builds
its answer from the tool result it finds in the conversation, so a run only produces the
expected text when the framework ran the tool (a plain async function that parses and walks
the expression) and fed its result back; every run's final text is checked and a wrong one
stops the benchmark. Events are consumed through each framework's own streaming API:
goldpath, a subscriber on the user's stream (`await InMemoryStreamHub().for_user(u).subscribe()`)
drained by its own task, runs through `factory.user_execution_engine(ctx)` +
`engine.run("supervisor", msg)` with `goldpath.ScriptedModel`; pydantic-ai, a streaming
`FunctionModel` and `agent.run_stream_events()`; openai-agents, a custom `Model` yielding
Responses stream events (built with `model_construct`, tracing disabled) and
`Runner.run_streamed(...).stream_events()`; langgraph, a minimal ReAct `StateGraph` (agent
node, prebuilt `ToolNode`, `tools_condition`) with a `BaseChatModel` that streams chunks,
and `graph.astream(..., stream_mode="messages")`. Agents, graphs and factories are built
once and shared by all runs, as in a server. Each phase of each framework runs in its own
fresh subprocess.

- **ms/run, CPU ms/run**: sequential runs, median wall time of one run; CPU is process time
  over all runs divided by their number.
- **runs/s, GC share**: the given number of runs started at once in one process (one task
  each), runs/s = runs / wall time, median of the repeats; GC share is the wall time inside
  the cyclic collector (timed with `gc.callbacks`) over the wall time of that repeat.
- **KiB/run in flight**: the runs are held at a barrier (the model awaits an
  `asyncio.Event` at the start of its answer turn, after the tool ran); tracemalloc's
  traced-memory delta divided by the number of runs, after `gc.collect()`. Measured after a
  warm-up round, so for goldpath every user is already connected (the user's stream and
  its subscriber with its drain task exist before the run and are not counted) and the
  history of finished runs is not counted. Counted: the run's asyncio task and coroutine
  frames, context, engine, emitter, dispatcher, agent instance, conversation, and the 3
  events the run has emitted so far (`agent_started`, `tool_executing`,
  `tool_completed`, each with its encoded JSON) held in the user's stream history for
  resume. RSS is measured in a separate pass without tracemalloc; GC objects is the growth
  of `len(gc.get_objects())` per run.
- **import s**: median wall time of `python -c "<import>"` minus that of `python -c pass`
  (interleaved, after one untimed round so every `.pyc` exists): goldpath `import goldpath`,
  pydantic-ai `import pydantic_ai`, openai-agents `import agents`, langgraph
  `import langgraph.graph`.
"""


def section(args: argparse.Namespace, rows: Sequence[Row], profile: dict[str, Any]) -> str:
    command = shlex.join([sys.executable, "bench/engine_overhead.py", *args.argv])
    parts = [
        SECTION,
        "",
        f"Made by `{command}` (see `bench/requirements.txt` for the environment); the machines "
        "are noisy, so compare ratios more than absolute figures.",
        "",
        table(rows),
        "",
        "Targets for goldpath:",
        "",
        *verdicts(rows),
        "",
        *environment(args),
        "",
        METHOD,
    ]
    found = profile_text(rows, profile)
    if found:
        parts += [found, ""]
    return "\n".join(parts).rstrip() + "\n"


def write_docs(text: str) -> None:
    """Replace only this benchmark's ``## `` section of docs/benchmarks.md."""
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        current = current.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        current = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(current)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="sequential runs of goldpath")
    parser.add_argument(
        "--peer-runs", type=int, default=300, help="cap on sequential runs of each peer"
    )
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peer-repeats", type=int, default=1, help="cap on the peers' concurrent repeats"
    )
    parser.add_argument(
        "--peer-held", type=int, default=200, help="cap on the peers' runs held in flight"
    )
    parser.add_argument("--import-repeats", type=int, default=10)
    parser.add_argument("--top", type=int, default=12, help="profile rows; 0 skips the profile")
    parser.add_argument("--profile-runs", type=int, default=1000)
    parser.add_argument(
        "--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS)
    )
    parser.add_argument("--write-docs", action="store_true", help=f"update {SECTION!r}")
    steady = parser.add_argument_group("steady state (--steady, goldpath only)")
    steady.add_argument(
        "--steady", action="store_true", help="full history against a young process"
    )
    steady.add_argument("--steady-processes", type=int, default=2, help="of each kind")
    steady.add_argument("--window", type=int, default=10, help="rounds per measured window")
    steady.add_argument(
        "--gc-tuned",
        action="store_true",
        help="the collector setting goldpath serve applies (goldpath/_gc.py), in both processes",
    )
    steady.add_argument("--history-events", type=int, default=1000, help="kept per user")
    steady.add_argument(
        "--history-seconds", type=float, default=0.0, help="kept per user; 0: the count only"
    )
    steady.add_argument(
        "--gc-threshold", type=int, default=0, help="gen0 GC threshold; 0: the interpreter's"
    )
    parser.add_argument("--worker", choices=list(FRAMEWORKS), help=argparse.SUPPRESS)
    parser.add_argument(
        "--phase",
        choices=("seq", "tput", "mem", "profile", "young", "steady"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    args.argv = list(argv)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.worker:
        worker(args)
        return
    if args.steady:
        _steady.run(args)
        return
    started = time.perf_counter()
    args.load = os.getloadavg()
    rows, profile = run_all(args)
    if profile:
        profile["runs"] = args.profile_runs
    text = section(args, rows, profile)
    print()
    print(table(rows))
    print()
    print("\n".join(verdicts(rows)))
    found = profile_text(rows, profile)
    if found:
        print()
        print(found)
    if args.write_docs:
        write_docs(text)
        print(f"\nwrote {SECTION!r} in {DOCS.relative_to(ROOT)}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
