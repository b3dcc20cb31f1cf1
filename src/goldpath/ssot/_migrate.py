"""`migrate_tree`: plan, diff, and (with `write`) apply the codemods to a tree, safely.

Safety rules: diff is the default and writes nothing; only the spans the codemods change
are replaced in the original text (`_splice`), read and written in the file's own encoding,
so every other byte (BOM, line endings, spacing libcst would normalise) stays; every
written file is backed up first; with a test command, files go in batches and a
failing batch is put back byte for byte while the run goes on.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from rich.console import Console
from rich.progress import Progress

from goldpath.ssot._backup import Backup, rollback_last
from goldpath.ssot._codemods import migrate_module
from goldpath.ssot._config import load_rules
from goldpath.ssot._files import SourceFile, cpu_count, decode, discover, encode, root_of
from goldpath.ssot._reexports import Packages, find_reexports, see_through
from goldpath.ssot._rules import Rules

PROGRESS_MIN_FILES = 20
POOL_THRESHOLD = 32


@dataclass
class MigrationReport:
    """What a migrate run did: changed, skipped and rolled-back paths, reports and the diff."""

    files_scanned: int = 0
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    diff: str = ""
    written: bool = False
    backup: Path | None = None
    backup_in_tree: bool = False


@dataclass(frozen=True, slots=True)
class _Change:
    file: SourceFile
    rel: str
    before: bytes
    after: bytes


@dataclass(frozen=True, slots=True)
class _Outcome:
    change: _Change | None = None
    reported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def needles(rules: Rules) -> tuple[bytes, ...]:
    """Byte strings at least one of which any file the rules could change must contain.

    A module's last name is enough (`compat` for `from goldpath import compat` and
    `from .. import compat`).
    """
    modules = {q.rpartition(".")[0] for q in rules.moves}
    modules |= {r.constructor.rpartition(".")[0] for r in rules.factory_rewrites}
    modules |= set(rules.deprecated_modules)
    found = {m.rpartition(".")[2].encode() for m in modules if m}
    found |= {f"{k.old}=".encode() for k in rules.keyword_renames}
    return tuple(sorted(found))


def migrate_tree(
    path: Path,
    rules: Rules | None = None,
    *,
    rules_file: Path | None = None,
    write: bool = False,
    batch_size: int = 50,
    test_cmd: str | None = None,
    jobs: int | None = None,
    backup_dir: Path | None = None,
) -> MigrationReport:
    """Migrate `path`; returns what changed (or would), what was skipped and reported.

    Only files containing one of `needles(rules)` are parsed; they go through a process
    pool when there are at least POOL_THRESHOLD of them (`jobs` forces the worker count).
    Backups go to `backup_dir`, by default `.goldpath-migrate/` at the root of `path`.
    """
    rules = rules if rules is not None else load_rules(path, rules_file)
    root = root_of(path)
    files = discover(path, rules)
    report = MigrationReport(files_scanned=len(files), written=write)
    changes: list[_Change] = []
    packages = Packages()
    with _progress(len(files)) as advance:
        datas = [(file, file.path.read_bytes()) for file in files]
        reexports = find_reexports(datas, rules, packages)
        rules = see_through(rules, reexports)
        marks = needles(rules)
        shims = {r.file.path for r in reexports.values()}
        report.reported.extend(r.advice() for r in reexports.values())
        candidates = []
        for file, data in datas:
            if file.path not in shims and any(mark in data for mark in marks):
                rel = file.path.relative_to(root).as_posix()
                candidates.append((file, rel, data, packages.package(file.path)))
            else:
                advance()
        for outcome in _run(candidates, rules, jobs):
            advance()
            report.skipped.extend(outcome.skipped)
            report.reported.extend(outcome.reported)
            if outcome.change is not None:
                changes.append(outcome.change)
    report.changed = [c.file.display for c in changes]
    report.diff = "".join(_diff(c) for c in changes)
    if write and changes:
        backup = Backup(root, backup_dir)
        _write(backup, changes, batch_size if test_cmd else len(changes), test_cmd, report)
    return report


def rollback_tree(path: Path, backup_dir: Path | None = None) -> list[str]:
    """Restore the exact bytes of every file the last `--write` run changed."""
    return rollback_last(root_of(path), backup_dir)


def _run(
    candidates: list[tuple[SourceFile, str, bytes, str | None]], rules: Rules, jobs: int | None
) -> Iterator[_Outcome]:
    workers = jobs if jobs is not None else cpu_count()
    if (len(candidates) < POOL_THRESHOLD and jobs is None) or workers <= 1:
        for file, rel, data, package in candidates:
            yield _migrate_one(file, rel, data, package, rules)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(
            _migrate_one,
            *zip(*candidates, strict=True),
            [rules] * len(candidates),
            chunksize=max(1, len(candidates) // (workers * 4)),
        )


def _migrate_one(
    file: SourceFile, rel: str, data: bytes, package: str | None, rules: Rules
) -> _Outcome:
    try:
        text, codec = decode(data)
    except (UnicodeDecodeError, SyntaxError) as exc:
        return _Outcome(
            skipped=[f"{file.display}: cannot be read in its declared encoding ({exc}); fix it"]
        )
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        return _Outcome(
            skipped=[f"{file.display}:{exc.raw_line}: does not parse ({exc.message}); fix it first"]
        )
    result = migrate_module(module, text, rules, package)
    reported = [f"{file.display}:{line}: {message}" for line, message in result.reports]
    if result.inexact:
        why = "a change falls on text libcst does not reproduce exactly; make it by hand"
        return _Outcome(reported=reported, skipped=[f"{file.display}: {why}"])
    if result.code == text:
        return _Outcome(reported=reported)
    return _Outcome(_Change(file, rel, data, encode(result.code, codec)), reported)


def _diff(change: _Change) -> str:
    before, codec = decode(change.before)
    after = change.after.decode(codec)
    name = change.file.display
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(
    backup: Backup,
    changes: list[_Change],
    batch: int,
    test_cmd: str | None,
    report: MigrationReport,
) -> None:
    root = backup.root
    report.backup = backup.dir
    report.backup_in_tree = backup.in_tree
    failed: set[str] = set()
    for start in range(0, len(changes), max(batch, 1)):
        chunk = changes[start : start + max(batch, 1)]
        for change in chunk:
            backup.write(change.rel, change.before, change.after)
        if test_cmd is None:
            continue
        result = subprocess.run(test_cmd, shell=True, cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            backup.restore([c.rel for c in chunk])
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            for change in chunk:
                report.rolled_back.append(
                    f"{change.file.display}: `{test_cmd}` failed with exit code "
                    f"{result.returncode} after this batch ({' | '.join(tail)})"
                )
            failed.update(c.file.display for c in chunk)
    report.changed = [c.file.display for c in changes if c.file.display not in failed]


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr for runs over PROGRESS_MIN_FILES files, when a terminal."""
    if total <= PROGRESS_MIN_FILES or not sys.stderr.isatty():
        yield lambda: None
        return
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("migrate", total=total)
        yield lambda: progress.advance(task)
