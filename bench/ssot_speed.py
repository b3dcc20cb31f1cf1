"""Benchmark `goldpath check` and `goldpath migrate --diff` against a plain libcst codemod.

Generates a tree of realistic modules (10% using the legacy API), then times, in the same
run and the same process: `check_tree` with the process pool and serially, `migrate_tree`
in diff mode, and the baseline (parse + a trivial transformer + `.code` over every file).
Each is repeated and the median reported. With --update-docs the results replace the
"ssot" section of docs/benchmarks.md.

    .venv/bin/python bench/ssot_speed.py --files 2000 --repeat 3 --update-docs
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import libcst as cst

from goldpath.ssot import Rules, check_tree, load_rules, migrate_tree
from goldpath.ssot._files import cpu_count

SECTION = "## ssot: goldpath check and goldpath migrate"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

HEADER = '''"""Module {i}: helpers for the {topic} feature."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from goldpath import UserExecutionContext
{legacy_import}
log = logging.getLogger(__name__)
LIMITS = (1, 2, 3)

'''

BLOCK = '''

@dataclass(frozen=True, slots=True)
class Record{n}:
    """A value of the {topic} feature."""

    name: str
    size: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        parts = [self.name, str(self.size)]
        for tag in self.tags:
            if tag.startswith("_"):
                continue
            parts.append(tag.upper())
        return " ".join(parts)


async def handle_{n}(ctx: UserExecutionContext, items: list[Any]) -> dict[str, int]:
    """Count items for one user, politely."""
    counts: dict[str, int] = {{}}
    for item in items:
        key = str(item).lower()
        counts[key] = counts.get(key, 0) + 1
        await asyncio.sleep(0)
    log.info("handled %d items for %s", len(items), ctx.user_id)
    return counts
'''

# The legacy files rotate through the forms `migrate` rewrites: a `from` import, a module
# alias (`legacy.ExecutionEngine`) in a comprehension, and a CRLF file with spacing libcst
# does not reproduce (`except KeyError :`), so every path of the splice is timed.
LEGACY = (
    (
        "from goldpath.compat import ExecutionEngine\n",
        """

async def legacy_run(registry: Any, bridge: Any, ctx: UserExecutionContext) -> Any:
    engine = ExecutionEngine(registry, bridge, ctx)
    child = UserExecutionContext(user_id=ctx.user_id, thread_id="t", metadata={"a": 1})
    return await engine.run(child, "hello")
""",
    ),
    (
        "import goldpath.compat as legacy\n",
        """

async def legacy_run(registry: Any, bridge: Any, contexts: list[Any]) -> Any:
    engines = [legacy.ExecutionEngine(registry, bridge, ctx) for ctx in contexts]
    child = legacy.UserExecutionContext(user_id="u", thread_id="t", metadata={"a": 1})
    return [await engine.run(child, "hello") for engine in engines]
""",
    ),
    (
        "from goldpath.compat import ExecutionEngine\n",
        """

async def legacy_run(registry: Any, bridge: Any, ctx: UserExecutionContext) -> Any:
    try:
        engine = ExecutionEngine(registry, bridge, ctx)
    except KeyError :
        return None
    return await engine.run(ctx, "hello")
""",
    ),
)


def generate(root: Path, count: int, seed: int = 7) -> None:
    """Write `count` modules of ~50-150 lines; every tenth uses the legacy API."""
    rng = random.Random(seed)
    topics = ["billing", "search", "chat", "reports", "audit", "profile"]
    for i in range(count):
        legacy = LEGACY[(i // 10) % len(LEGACY)] if i % 10 == 0 else ("", "")
        topic = rng.choice(topics)
        package = root / f"pkg{i % 20}"
        package.mkdir(parents=True, exist_ok=True)
        text = HEADER.format(i=i, topic=topic, legacy_import=legacy[0])
        for n in range(rng.randint(1, 4)):
            text += BLOCK.format(n=n, topic=topic)
        text += legacy[1]
        newline = "\r\n" if legacy is LEGACY[2] else "\n"
        (package / f"module_{i}.py").write_bytes(text.replace("\n", newline).encode())


class _Rename(cst.CSTTransformer):
    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return (
            updated_node.with_changes(value="x")
            if updated_node.value == "_unused"
            else updated_node
        )


def baseline(root: Path) -> int:
    """The plain libcst codemod: parse, transform, generate code, for every file."""
    files = sorted(root.rglob("*.py"))
    for file in files:
        cst.parse_module(file.read_text("utf-8")).visit(_Rename()).code  # noqa: B018
    return len(files)


def pool_crossover(
    root: Path, rules: Rules, repeat: int
) -> list[tuple[int, tuple[float, float], tuple[float, float]]]:
    """Serial vs pool time of `check` on subtrees of growing size."""
    files = sorted(root.rglob("*.py"))
    found = []
    for size in (100, 200, 400, 800):
        with tempfile.TemporaryDirectory() as tmp:
            sub = Path(tmp)
            for file in files[:size]:
                (sub / file.name).write_bytes(file.read_bytes())
            serial = timed(partial(check_tree, sub, rules, jobs=1), repeat)
            pool = timed(partial(check_tree, sub, rules, jobs=cpu_count()), repeat)
            found.append((size, serial, pool))
    return found


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process and its reaped workers) of runs.

    CPU time is reported beside wall time because the benchmark machine is shared: wall
    time then depends on what else runs, CPU time much less.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        before = os.times()
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(
            after.user
            + after.system
            + after.children_user
            + after.children_system
            - (before.user + before.system + before.children_user + before.children_system)
        )
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.files)
        lines = sum(p.read_text("utf-8").count("\n") for p in root.rglob("*.py"))
        rules = load_rules(root)
        report = check_tree(root, rules)
        migration = migrate_tree(root, rules)
        assert report.files_scanned == args.files
        assert len(migration.changed) == args.files // 10, len(migration.changed)
        rows = [
            ("check (process pool)", timed(lambda: check_tree(root, rules), args.repeat)),
            ("check (serial)", timed(lambda: check_tree(root, rules, jobs=1), args.repeat)),
            ("migrate --diff", timed(lambda: migrate_tree(root, rules), args.repeat)),
            ("plain libcst codemod (baseline)", timed(lambda: baseline(root), args.repeat)),
        ]
        crossover = pool_crossover(root, rules, args.repeat)
        load = os.getloadavg()[0]
    n = args.files
    table = [
        "| what | wall s | files/s (wall) | CPU s | CPU ms per file | files per CPU-second |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {wall:.3f} | {n / wall:,.0f} | {cpu:.3f} | {1000 * cpu / n:.2f} "
            f"| {n / cpu:,.0f} |"
            for name, (wall, cpu) in rows
        ),
    ]
    pool_table = [
        "| files | serial wall s | pool wall s |",
        "|---:|---:|---:|",
        *(f"| {n} | {serial[0]:.3f} | {pool[0]:.3f} |" for n, serial, pool in crossover),
    ]
    cpus = cpu_count()
    body = "\n".join(
        [
            SECTION,
            "",
            f"Tree: {args.files} generated modules, {lines / args.files:.0f} lines on average, "
            f"10% using the legacy API in three forms (a `from` import; a module alias in "
            "comprehensions; CRLF with `except KeyError :`) "
            f"({len(report.findings)} check findings, "
            f"{len(migration.changed)} files migrate would change). Median of {args.repeat} runs, "
            "same process, warm file cache.",
            "",
            *table,
            "",
            goals(n, dict(rows)),
            "",
            yardstick(dict(rows)),
            "",
            "`check` serial vs process pool on the first N files (where the pool starts to pay):",
            "",
            *pool_table,
            "",
            f"Machine: {cpus} CPUs, {platform.machine()}, {platform.system()}; "
            f"Python {platform.python_version()}, libcst {version('libcst')}; "
            f"1-minute load average {load_before:.1f} before the run and {load:.1f} at its end "
            "(the run itself adds to it; the machine is shared).",
            "",
            "Command:",
            "",
            "```",
            f".venv/bin/python bench/ssot_speed.py --files {args.files} "
            f"--repeat {args.repeat} --update-docs",
            "```",
            "",
            "`check` parses with the stdlib `ast` only; `migrate` runs libcst only on files that",
            "contain one of the rules' legacy module paths or keywords (a byte search), so it",
            "parses ~10% of this tree, while the baseline parses every file.",
            "",
        ]
    )
    print(body)
    if args.update_docs:
        update_docs(body)


def goals(files: int, rows: dict[str, tuple[float, float]]) -> str:
    """The goals line: check >= 2,000 files/s and migrate --diff >= 200 files/s, wall clock."""
    found = []
    for label, name, goal in (
        ("check", "check (process pool)", 2000),
        ("migrate --diff", "migrate --diff", 200),
    ):
        rate = files / rows[name][0]
        found.append(
            f"{label} >= {goal:,} files/s: {'met' if rate >= goal else 'missed'} ({rate:,.0f})"
        )
    return (
        "Goals: "
        + "; ".join(found)
        + ". Wall-clock figures depend on what else the shared machine runs at the time; "
        "CPU figures much less."
    )


def yardstick(rows: dict[str, tuple[float, float]]) -> str:
    """`check`'s CPU per file as a share of the baseline's: comparable across machines."""
    share = rows["check (serial)"][1] / rows["plain libcst codemod (baseline)"][1]
    return (
        f"`check` (serial) uses {100 * share:.1f}% of the baseline's CPU per file: compare this "
        "share, not the absolute figures, between machines of different speed."
    )


def update_docs(body: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, nothing else."""
    text = DOCS.read_text("utf-8") if DOCS.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[end:] if end != -1 else "")
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
