"""`migrate_tree`: plan, diff, and (with `write`) apply the codemods to a tree, safely.

Safety rules: diff is the default and writes nothing; a file is edited only when libcst
reproduces its exact bytes before any change (BOM, encoding and line endings included);
every written file is backed up first; with a test command, files go in batches and a
failing batch is put back byte for byte while the run goes on.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from rich.console import Console
from rich.progress import Progress

from goldpath.ssot._backup import Backup, rollback_last
from goldpath.ssot._codemods import migrate_module
from goldpath.ssot._config import load_rules
from goldpath.ssot._files import SourceFile, decode, discover, encode, root_of
from goldpath.ssot._rules import Rules

PROGRESS_MIN_FILES = 20


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


@dataclass(frozen=True, slots=True)
class _Change:
    file: SourceFile
    rel: str
    before: bytes
    after: bytes


def needles(rules: Rules) -> tuple[bytes, ...]:
    """Byte strings at least one of which any file the rules could change must contain."""
    modules = {q.rpartition(".")[0] for q in rules.moves}
    modules |= {r.constructor.rpartition(".")[0] for r in rules.factory_rewrites}
    modules |= set(rules.deprecated_modules)
    found = {m.encode() for m in modules if m}
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
) -> MigrationReport:
    """Migrate `path`; returns what changed (or would), what was skipped and reported."""
    rules = rules if rules is not None else load_rules(path, rules_file)
    root = root_of(path)
    files = discover(path, rules)
    report = MigrationReport(files_scanned=len(files), written=write)
    marks = needles(rules)
    changes: list[_Change] = []
    diffs: list[str] = []
    with _progress(len(files)) as advance:
        for file in files:
            advance()
            data = file.path.read_bytes()
            if not any(mark in data for mark in marks):
                continue
            rel = file.path.relative_to(root).as_posix()
            change = _migrate_one(file, rel, data, rules, report)
            if change is not None:
                changes.append(change)
                diffs.append(_diff(change))
    report.changed = [c.file.display for c in changes]
    report.diff = "".join(diffs)
    if write and changes:
        _write(root, changes, batch_size if test_cmd else len(changes), test_cmd, report)
    return report


def rollback_tree(path: Path) -> list[str]:
    """Restore the exact bytes of every file the last `--write` run changed."""
    return rollback_last(root_of(path))


def _migrate_one(
    file: SourceFile, rel: str, data: bytes, rules: Rules, report: MigrationReport
) -> _Change | None:
    try:
        text, bom = decode(data)
    except UnicodeDecodeError:
        report.skipped.append(f"{file.display}: not UTF-8; convert it to UTF-8 to migrate it")
        return None
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        report.skipped.append(
            f"{file.display}:{exc.raw_line}: does not parse ({exc.message}); fix it first"
        )
        return None
    if module.code != text or encode(text, bom) != data:
        report.skipped.append(
            f"{file.display}: libcst does not reproduce its bytes exactly; migrate it by hand"
        )
        return None
    result = migrate_module(module, text, rules)
    report.reported.extend(f"{file.display}:{line}: {message}" for line, message in result.reports)
    if result.code == text:
        return None
    return _Change(file, rel, data, encode(result.code, bom))


def _diff(change: _Change) -> str:
    before, _ = decode(change.before)
    after, _ = decode(change.after)
    name = change.file.display
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(
    root: Path, changes: list[_Change], batch: int, test_cmd: str | None, report: MigrationReport
) -> None:
    backup = Backup(root)
    report.backup = backup.dir
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
