"""How reports read: a rich summary for people and a stable JSON document for tools."""

from __future__ import annotations

import json
from collections import Counter
from itertools import groupby
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from goldpath.ssot._backup import BACKUP_DIR
from goldpath.ssot._findings import CheckReport

if TYPE_CHECKING:
    from goldpath.ssot._migrate import MigrationReport


def check_json(report: CheckReport) -> str:
    """`--json` output of `check`: {"score", "files_scanned", "findings": [...]}."""
    return json.dumps(report.as_json(), indent=2)


def print_check(report: CheckReport, console: Console) -> None:
    """Findings grouped by rule (file:line, message with the fix), then counts and score."""
    findings = sorted(report.findings, key=lambda f: (f.rule, f.path, f.line, f.col))
    for rule, group in groupby(findings, key=lambda f: f.rule):
        items = list(group)
        console.print(f"\n[bold]{rule}[/bold] ({len(items)})")
        for f in items:
            where = "test" if f.in_tests else "prod"
            console.print(
                f"  {escape(f.path)}:{f.line}:{f.col + 1} [dim]{where}[/dim] {escape(f.message)}"
            )
    table = Table(title="goldpath check", show_edge=False)
    table.add_column("rule")
    table.add_column("production", justify="right")
    table.add_column("tests", justify="right")
    prod = Counter(f.rule for f in report.findings if not f.in_tests)
    tests = Counter(f.rule for f in report.findings if f.in_tests)
    for rule in sorted(prod.keys() | tests.keys()):
        table.add_row(rule, str(prod[rule]), str(tests[rule]))
    console.print()
    if report.findings:
        console.print(table)
    colour = "green" if report.score == 100.0 else "yellow" if report.score >= 90 else "red"
    console.print(
        f"{report.files_scanned} files scanned, {len(report.findings)} findings "
        f"({sum(prod.values())} production, {sum(tests.values())} tests); "
        f"score [bold {colour}]{report.score:.1f}[/bold {colour}]/100"
    )


def print_migration(report: MigrationReport, console: Console) -> None:
    """What migrate changed, skipped, rolled back, and what it left for a person to do."""
    for item in report.reported:
        console.print(f"[yellow]report[/yellow] {escape(item)}")
    for item in report.skipped:
        console.print(f"[red]skipped[/red] {escape(item)}")
    for item in report.rolled_back:
        console.print(f"[red]rolled back[/red] {escape(item)}")
    verb = "changed" if report.written else "would change"
    console.print(
        f"{report.files_scanned} files scanned, {len(report.changed)} {verb}, "
        f"{len(report.skipped)} skipped, {len(report.reported)} reported for manual work"
        + (f", {len(report.rolled_back)} rolled back" if report.rolled_back else "")
        + (f"; backup in {report.backup}" if report.backup else "")
        + (f" (add {BACKUP_DIR}/ to .gitignore)" if report.backup_in_tree else "")
    )
