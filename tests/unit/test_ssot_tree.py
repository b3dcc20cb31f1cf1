"""`goldpath migrate` on a generated legacy tree: every file exactly as expected.

The tree mixes every kind of legacy use `migrate` rewrites, the ones it only reports, and
files it must not touch, each in several byte-level styles (CRLF, BOM, tabs, odd spacing
libcst does not reproduce, a latin-1 PEP 263 file). Every case is written once, in plain
text with its exact expected text and reports; a style is applied to both the same way.
"""

from __future__ import annotations

import codecs
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from goldpath.ssot import MigrationReport, migrate_tree

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Case:
    """A file before and after (None: unchanged), and its reports as (line, words in it)."""

    name: str
    before: str
    after: str | None = None
    reports: tuple[tuple[int, str], ...] = ()


def text(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


CASES = [
    Case(
        "context",
        text("""
            from goldpath.compat import UserExecutionContext

            ctx = UserExecutionContext(user_id="u", metadata={"naïve": 1})
            """),
        text("""
            from goldpath import UserExecutionContext

            ctx = UserExecutionContext(user_id="u", agent_context={"naïve": 1})
            """),
    ),
    Case(
        "parenthesised",
        text("""
            from goldpath.compat import (
                ExecutionEngine as EE,  # the old engine
                Agent,
            )

            x: EE
            """),
        text("""
            from goldpath import (
                UserExecutionEngine as EE,  # the old engine
                Agent,
            )

            x: EE
            """),
    ),
    Case(
        "merge",
        text("""
            from goldpath import Agent
            from goldpath.compat import ExecutionEngine, ToolDispatcher

            engine: "ExecutionEngine | None" = None
            """),
        text("""
            from goldpath import Agent, UserExecutionEngine, ToolDispatcher

            engine: "UserExecutionEngine | None" = None
            """),
    ),
    Case(
        "guarded",
        text("""
            from typing import TYPE_CHECKING

            try:
                from goldpath.compat import ExecutionEngine
            except ImportError:
                ExecutionEngine = None

            if TYPE_CHECKING:
                from goldpath.compat import UserExecutionContext
            """),
        text("""
            from typing import TYPE_CHECKING

            try:
                from goldpath import UserExecutionEngine as ExecutionEngine
            except ImportError:
                ExecutionEngine = None

            if TYPE_CHECKING:
                from goldpath import UserExecutionContext
            """),
    ),
    Case(
        "constructor",
        text("""
            from goldpath.compat import ExecutionEngine


            async def main(registry, bridge, ctx):
                engine = ExecutionEngine(registry, bridge, ctx)
                return ExecutionEngine(registry, bridge, ctx).run()
            """),
        text("""
            from goldpath import UserExecutionEngine


            async def main(registry, bridge, ctx):
                engine = await UserExecutionEngine.create_from_legacy(registry, bridge, ctx)
                return (await UserExecutionEngine.create_from_legacy(registry, bridge, ctx)).run()
            """),
    ),
    Case(
        "module_alias",
        text("""
            import goldpath.compat as legacy


            async def main(registry, bridge):
                ctx = legacy.UserExecutionContext(user_id="u", metadata={})
                return legacy.ExecutionEngine(registry, bridge, ctx)
            """),
        text("""
            import goldpath


            async def main(registry, bridge):
                ctx = goldpath.UserExecutionContext(user_id="u", agent_context={})
                return await goldpath.UserExecutionEngine.create_from_legacy(registry, bridge, ctx)
            """),
    ),
    Case(
        "module_plain",
        text("""
            import goldpath.compat


            def make():
                return goldpath.compat.UserExecutionContext(user_id="u", metadata={})
            """),
        text("""
            import goldpath


            def make():
                return goldpath.UserExecutionContext(user_id="u", agent_context={})
            """),
    ),
    Case(
        "module_from",
        text("""
            from goldpath import compat, Agent


            class Mine(compat.Agent):
                engine: compat.ExecutionEngine
            """),
        text("""
            from goldpath import Agent
            import goldpath


            class Mine(goldpath.Agent):
                engine: goldpath.UserExecutionEngine
            """),
    ),
    Case(
        "module_strings",
        text("""
            from goldpath import compat as gc


            def pick(engine: "gc.ExecutionEngine | None") -> "gc.Agent":
                return gc.Agent
            """),
        text("""
            import goldpath


            def pick(engine: "goldpath.UserExecutionEngine | None") -> "goldpath.Agent":
                return goldpath.Agent
            """),
    ),
    Case(
        "spelled_out",
        text("""
            import goldpath


            async def main(r, b, c) -> goldpath.compat.Agent:
                return goldpath.compat.ExecutionEngine(r, b, c)
            """),
        text("""
            import goldpath


            async def main(r, b, c) -> goldpath.Agent:
                return await goldpath.UserExecutionEngine.create_from_legacy(r, b, c)
            """),
    ),
    Case(
        "comprehensions",
        text("""
            import goldpath.compat as legacy
            from goldpath.compat import ExecutionEngine


            async def main(r, b, cs):
                engines = [ExecutionEngine(r, b, c) for c in cs]
                by = {c: legacy.ExecutionEngine(r, b, c) for c in cs}
                return engines, by
            """),
        text("""
            import goldpath
            from goldpath import UserExecutionEngine


            async def main(r, b, cs):
                engines = [await UserExecutionEngine.create_from_legacy(r, b, c) for c in cs]
                by = {c: await goldpath.UserExecutionEngine.create_from_legacy(r, b, c) for c in cs}
                return engines, by
            """),
    ),
    Case(
        "stuck_name",
        text("""
            from goldpath.compat import ExecutionEngine, UserExecutionContext


            async def ok(r, b):
                ctx = UserExecutionContext(user_id="u")
                return ExecutionEngine(r, b, ctx)


            def not_ok(r, b, c):
                return ExecutionEngine(r, b, c)
            """),
        text("""
            from goldpath.compat import ExecutionEngine
            from goldpath import UserExecutionEngine, UserExecutionContext


            async def ok(r, b):
                ctx = UserExecutionContext(user_id="u")
                return await UserExecutionEngine.create_from_legacy(r, b, ctx)


            def not_ok(r, b, c):
                return ExecutionEngine(r, b, c)
            """),
        ((1, "import kept next to `goldpath.UserExecutionEngine`"), (10, "in a sync function")),
    ),
    Case(
        "stuck_module",
        text("""
            import goldpath.compat as legacy


            async def ok(r, b, c):
                return legacy.ExecutionEngine(r, b, c)


            engines = [legacy.ExecutionEngine(1, 2, c) for c in "ab"]
            """),
        text("""
            import goldpath.compat as legacy
            import goldpath


            async def ok(r, b, c):
                return await goldpath.UserExecutionEngine.create_from_legacy(r, b, c)


            engines = [legacy.ExecutionEngine(1, 2, c) for c in "ab"]
            """),
        ((1, "`goldpath.compat` import kept"), (8, "at module level")),
    ),
    Case(
        "semicolons",
        text("""
            import os; from goldpath.compat import ExecutionEngine; print(os.sep)
            x: ExecutionEngine
            """),
        text("""
            import os; from goldpath import UserExecutionEngine; print(os.sep)
            x: UserExecutionEngine
            """),
    ),
    Case(
        "generator",
        text("""
            from goldpath.compat import ExecutionEngine


            async def main(r, b, cs):
                first = [ExecutionEngine(r, b, c) for c in cs]
                return first, list(ExecutionEngine(r, b, c) for c in cs)
            """),
        text("""
            from goldpath.compat import ExecutionEngine
            from goldpath import UserExecutionEngine


            async def main(r, b, cs):
                first = [await UserExecutionEngine.create_from_legacy(r, b, c) for c in cs]
                return first, list(ExecutionEngine(r, b, c) for c in cs)
            """),
        ((1, "import kept next to"), (6, "in a generator expression")),
    ),
    Case(
        "keyword_only",
        text("""
            import goldpath

            ctx = goldpath.UserExecutionContext(user_id="u", metadata={})
            """),
        text("""
            import goldpath

            ctx = goldpath.UserExecutionContext(user_id="u", agent_context={})
            """),
    ),
    # Reported only: the file stays as it is.
    Case(
        "star",
        text("""
            from goldpath.compat import *

            engine = None
            """),
        reports=((1, "`from goldpath.compat import *` not rewritten"),),
    ),
    Case(
        "patch_string",
        text("""
            from unittest import mock

            patcher = mock.patch("goldpath.compat.ExecutionEngine")
            """),
        reports=((3, "names a legacy path"),),
    ),
    Case(
        "legacy_call",
        text("""
            from goldpath.compat import AgentWebSocketBridge


            def bridge(ctx):
                return AgentWebSocketBridge.create_for_user(ctx)
            """),
        reports=(
            (1, "`goldpath.compat.AgentWebSocketBridge` has no canonical move"),
            (5, "legacy `goldpath.compat.AgentWebSocketBridge.create_for_user(...)`"),
        ),
    ),
    Case(
        "sync_only",
        text("""
            from goldpath.compat import ExecutionEngine


            class Holder:
                engine = ExecutionEngine(1, 2, 3)
            """),
        reports=((5, "in a class body"),),
    ),
    Case(
        "both_keywords",
        text("""
            from goldpath import UserExecutionContext

            ctx = UserExecutionContext(metadata={}, agent_context={})
            """),
        reports=((3, "the call already passes `agent_context=`"),),
    ),
    # Not legacy at all: byte-identical.
    Case(
        "clean",
        text("""
            import os


            def join(x):
                try:
                    return os.path.join(x, "a")
                except KeyError :
                    return None
            """),
    ),
    Case(
        "lookalike",
        text("""
            from app import compatibility


            def record(**kwargs):
                return compatibility.log(metadata=kwargs)
            """),
    ),
]

# The project's own re-export module and its importers (relative and absolute).
SHIM = Case(
    "compat",
    text("""
        \"\"\"Legacy names, kept for plugins.\"\"\"
        from goldpath.compat import ExecutionEngine, UserExecutionContext  # noqa: F401

        __all__ = ["ExecutionEngine", "UserExecutionContext"]
        """),
    reports=((2, "re-exports legacy names (ExecutionEngine, UserExecutionContext)"),),
)
IMPORTERS = [
    Case(
        "relative",
        text("""
            from .. import compat
            from ..compat import ExecutionEngine


            async def run(r, b):
                ctx = compat.UserExecutionContext(user_id="u", metadata={})
                return ExecutionEngine(r, b, ctx)
            """),
        text("""
            import goldpath
            from goldpath import UserExecutionEngine


            async def run(r, b):
                ctx = goldpath.UserExecutionContext(user_id="u", agent_context={})
                return await UserExecutionEngine.create_from_legacy(r, b, ctx)
            """),
    ),
    Case(
        "absolute",
        text("""
            from pkg import compat

            ctx = compat.UserExecutionContext(user_id="u", metadata={})
            """),
        text("""
            import goldpath

            ctx = goldpath.UserExecutionContext(user_id="u", agent_context={})
            """),
    ),
]

ODD = "\n\ntry:\n    pass\nexcept KeyError :\n    x  =  (1 ,2)\n"
STYLES = [
    "",
    "crlf",
    "bom",
    "tabs",
    "latin1",
    "odd",
    "tabs crlf odd",
    "latin1 crlf odd",
    "bom tabs odd",
    "latin1 tabs",
    "crlf odd",
    "bom crlf",
]


def styled(source: str, style: str) -> bytes:
    """`source` in a style: tabs, odd spacing, latin-1 with its PEP 263 line, CRLF, BOM."""
    flags = style.split()
    if "odd" in flags:
        source += ODD
    if "tabs" in flags:
        source = "\n".join(_tabs(line) for line in source.split("\n"))
    if "latin1" in flags:
        source = "# -*- coding: latin-1 -*-\n" + source + "CAFE = 'café'\n"
    if "crlf" in flags:
        source = source.replace("\n", "\r\n")
    data = source.encode("latin-1" if "latin1" in flags else "utf-8")
    return codecs.BOM_UTF8 + data if "bom" in flags else data


def _tabs(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\t" * ((len(line) - len(stripped)) // 4) + stripped


@dataclass(frozen=True)
class Expected:
    before: bytes
    after: bytes
    reports: tuple[tuple[int, str], ...]


def build(root: Path) -> dict[Path, Expected]:
    """Write the tree under `root`; return each file's expected bytes and reports."""
    tree: dict[Path, Expected] = {}

    def put(path: Path, case: Case, style: str) -> None:
        shift = 1 if "latin1" in style.split() else 0
        before = styled(case.before, style)
        after = before if case.after is None else styled(case.after, style)
        reports = tuple((line + shift, words) for line, words in case.reports)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(before)
        tree[path] = Expected(before, after, reports)

    for number, style in enumerate(STYLES):
        tag = style.replace(" ", "_") or "plain"
        for case in CASES:
            home = "tests" if (number + len(case.name)) % 2 else "src/app"
            put(root / home / f"{case.name}_{tag}.py", case, style)
        for case in IMPORTERS:
            put(root / "pkg" / "handlers" / f"{case.name}_{tag}.py", case, style)
    for package in ("pkg", "pkg/handlers"):
        put(root / package / "__init__.py", Case("init", ""), "")
    put(root / "pkg" / "compat.py", SHIM, "")
    # libcst drops a last lone carriage return when it renders this file
    lone_cr = root / "src" / "app" / "lone_cr.py"
    lone_cr.write_bytes(b"from goldpath.compat import Agent\rx: Agent\r")
    tree[lone_cr] = Expected(lone_cr.read_bytes(), b"from goldpath import Agent\rx: Agent\r", ())
    return tree


def reports_of(report: MigrationReport, path: Path) -> list[str]:
    """The reports about `path`, by line."""
    found = [r for r in report.reported if r.startswith(f"{path}:")]
    return sorted(found, key=lambda r: int(r[len(f"{path}:") :].partition(":")[0]))


def test_generated_legacy_tree_is_migrated_exactly(tmp_path: Path) -> None:
    tree = build(tmp_path)
    assert len(tree) >= 250

    report = migrate_tree(tmp_path, write=True)

    assert report.skipped == []
    assert report.files_scanned == len(tree)
    wrong = [str(p) for p, e in tree.items() if p.read_bytes() != e.after]
    assert wrong == []
    assert sorted(report.changed) == sorted(str(p) for p, e in tree.items() if e.after != e.before)
    for path, expected in tree.items():
        found = reports_of(report, path)
        assert len(found) == len(expected.reports), (path, found)
        for message, (line, words) in zip(found, sorted(expected.reports), strict=True):
            assert message.startswith(f"{path}:{line}: "), message
            assert words in message, message
    assert len(report.reported) == sum(len(e.reports) for e in tree.values())

    again = migrate_tree(tmp_path, write=True)
    assert again.changed == []
    assert all(p.read_bytes() == e.after for p, e in tree.items())
