"""Cheap traversal for `check`: statements with their enclosing classes, and calls on demand.

Walking statements only is several times cheaper than visiting every expression node, and
most files need nothing more: calls are looked at only in files whose text mentions one of
the callees the rules care about (see `Scan.wants_calls`). Imports matter only to those
calls and to deprecated modules, so a file whose text rules out both (`Scan.needs_imports`)
is walked only down to its classes (`class_defs`).
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from goldpath.ssot._rules import Rules

NESTED = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


@dataclass(frozen=True, slots=True)
class Scan:
    """Rules prepared once per run (and shipped to pool workers) for scanning many files."""

    rules: Rules
    engine_names: frozenset[str]
    context_names: frozenset[str]
    callees: re.Pattern[str]
    callees_anywhere: re.Pattern[str]
    deprecated_parts: tuple[tuple[str, ...], ...]

    @classmethod
    def prepare(cls, rules: Rules) -> Scan:
        """Derive the callee names whose calls matter and a regex that spots them in text."""
        engines = frozenset(q.rpartition(".")[2] for q in rules.engine_constructors)
        contexts = frozenset(r.canonical_name for r in rules.roles if r.name == "context")
        names = set(engines | contexts)
        for key in rules.legacy_calls:
            names.update(key.split(".")[-2:])
        for rename in rules.keyword_renames:
            names.add(rename.callee.rpartition(".")[2])
            names.update(o.rpartition(".")[2] for o, n in rules.moves.items() if n == rename.callee)
        for rewrite in rules.factory_rewrites:
            names.add(rewrite.constructor.rpartition(".")[2])
        alternatives = "|".join(sorted(re.escape(n) for n in names if n))
        tail = rf"(?:{alternatives})\b\s*(?:\(|\.|as\b)" if names else r"(?!)"
        parts = tuple(tuple(module.split(".")) for module in rules.deprecated_modules)
        return cls(rules, engines, contexts, re.compile(rf"\b{tail}"), re.compile(tail), parts)

    def wants_calls(self, text: str) -> bool:
        """Whether a file calls (or aliases) any callee a rule looks at.

        Exactly `callees.search(text)`, found about five times faster: without its leading
        word boundary the pattern lets the regex engine skip ahead to the names' first
        letters, and each place found is confirmed by the whole pattern there (whose word
        boundary still sees the character before that place).
        """
        start = 0
        while (found := self.callees_anywhere.search(text, start)) is not None:
            if self.callees.match(text, found.start()):
                return True
            start = found.start() + 1
        return False

    def needs_imports(self, text: str, want_calls: bool) -> bool:
        """Whether a file's imports can matter: its calls are checked, or it may import a
        deprecated module. An import of `a.b` (`import a.b`, `from a.b import x`, `from a
        import b`) holds every part of the name in its text; only non-ASCII text, where
        names are NFKC-normalised (`ｃompat` is `compat`), is taken to need them always.
        """
        if want_calls or not text.isascii():
            return True
        return any(all(part in text for part in parts) for parts in self.deprecated_parts)


def statements(
    body: list[ast.stmt], within: list[int] | None = None
) -> Iterator[tuple[ast.stmt, tuple[str, ...]]]:
    """Every statement in document order, nested ones included, with the classes around it.

    With `within` (sorted line numbers), the blocks of a statement are entered only when
    one of those lines lies between its first and last line.
    """
    stack: list[tuple[Iterator[ast.stmt], tuple[str, ...]]] = [(iter(body), ())]
    while stack:
        items, classes = stack[-1]
        stmt = next(items, None)
        if stmt is None:
            stack.pop()
            continue
        yield stmt, classes
        if within is not None and not _spans(stmt, within):
            continue
        inner = (*classes, stmt.name) if isinstance(stmt, ast.ClassDef) else classes
        nested = [getattr(stmt, name, None) for name in ("body", "orelse", "finalbody")]
        nested += [h.body for h in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]]
        for block in reversed(nested):
            if isinstance(block, list) and block:
                stack.append((iter(block), inner))


def class_lines(text: str) -> list[int]:
    """Lines (numbered as `ast` numbers them) where `class` occurs: a `class` statement's
    `lineno` is the line of its keyword, so no class starts elsewhere."""
    if "\r" in text:  # ast counts a lone CR as a line end, like CRLF and LF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[int] = []
    line, counted = 1, 0
    found = text.find("class")
    while found != -1:
        line += text.count("\n", counted, found)
        counted = found
        if not lines or lines[-1] != line:
            lines.append(line)
        found = text.find("class", found + 5)
    return lines


def class_defs(body: list[ast.stmt], lines: list[int]) -> Iterator[ast.ClassDef]:
    """Every class statement in document order, nested ones included, descending only into
    statements whose lines hold one of `lines` (from `class_lines`): the same classes
    `statements` reaches, without walking function bodies that cannot hold one."""
    if not lines:
        return
    for stmt, _ in statements(body, lines):
        if isinstance(stmt, ast.ClassDef):
            yield stmt


def _spans(stmt: ast.stmt, lines: list[int]) -> bool:
    at = bisect_left(lines, stmt.lineno)
    return at < len(lines) and lines[at] <= (stmt.end_lineno or stmt.lineno)


def calls(stmt: ast.stmt) -> Iterator[ast.Call]:
    """Calls in one statement's own expressions (not in its nested statements)."""
    roots: list[ast.AST] = []
    for name, value in ast.iter_fields(stmt):
        if name not in NESTED:
            roots.extend(v for v in (value if isinstance(value, list) else [value]) if v)
    for holder in getattr(stmt, "handlers", ()):
        if holder.type is not None:
            roots.append(holder.type)
    for case in getattr(stmt, "cases", ()):
        if case.guard is not None:
            roots.append(case.guard)
    for root in roots:
        if isinstance(root, ast.AST):
            yield from _calls_under(root)


def _calls_under(root: ast.AST) -> Iterator[ast.Call]:
    """The calls `ast.walk(root)` visits, in its breadth-first order, at about half its cost
    (no generator per node)."""
    todo: deque[object] = deque([root])
    while todo:
        node = todo.popleft()
        if not isinstance(node, ast.AST):
            continue  # the None of `{**d}` keys or a missing default
        if type(node) is ast.Call:
            yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                todo.extend(value)
            elif isinstance(value, ast.AST):
                todo.append(value)
