"""`check_tree`: scan every file of a tree, in parallel when there are enough of them.

A process pool pays for itself only past a hundred files or so (on the 2-CPU benchmark
machine, when quiet, it is about even at 100 files and ~1.5x faster at 200-800; see
docs/benchmarks.md), so smaller trees, and machines with one CPU, are scanned serially.

The cyclic garbage collector is paused while files are scanned: the syntax trees are
freed by reference counting alone, and the collector would only re-traverse their
thousands of young nodes, about a tenth of the scan's CPU.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from goldpath.ssot._config import load_rules
from goldpath.ssot._files import SourceFile, cpu_count, discover
from goldpath.ssot._findings import CheckReport, Finding
from goldpath.ssot._rules import Rules
from goldpath.ssot._scanner import scan_file
from goldpath.ssot._walk import Scan

POOL_THRESHOLD = 200
CHUNK = 64


def check_tree(
    path: Path, rules: Rules | None = None, *, config: Path | None = None, jobs: int | None = None
) -> CheckReport:
    """Scan `path` (a directory or one file) and return its findings and score.

    `rules` defaults to the built-in set extended by `config` or the tree's pyproject.toml.
    `jobs` forces the number of worker processes (1 = serial); by default a pool is used
    for trees of at least POOL_THRESHOLD files when more than one CPU is available.
    """
    rules = rules if rules is not None else load_rules(path, config)
    files = discover(path, rules)
    workers = jobs if jobs is not None else _default_workers(len(files))
    findings: list[Finding] = []
    scan = Scan.prepare(rules)
    if workers <= 1:
        with _collector_paused():
            for file in files:
                findings.extend(scan_file(file, scan))
    else:
        chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(_scan_chunk, chunks, [scan] * len(chunks)):
                findings.extend(found)
    return CheckReport(len(files), tuple(findings))


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan_chunk(files: list[SourceFile], scan: Scan) -> list[Finding]:
    with _collector_paused():
        return [finding for file in files for finding in scan_file(file, scan)]


def _default_workers(count: int) -> int:
    return 1 if count < POOL_THRESHOLD else cpu_count()
