"""Cheap traversal for `check`: statements with their enclosing classes, and calls on demand.

Walking statements only is several times cheaper than visiting every expression node, and
most files need nothing more: calls are looked at only in files whose text mentions one of
the callees the rules care about (see `Scan.wants_calls`).
"""

from __future__ import annotations

import ast
import re
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
        pattern = re.compile(rf"\b(?:{alternatives})\b\s*(?:\(|\.|as\b)" if names else r"(?!)")
        return cls(rules, engines, contexts, pattern)

    def wants_calls(self, text: str) -> bool:
        """Whether a file calls (or aliases) any callee a rule looks at."""
        return self.callees.search(text) is not None


def statements(body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, tuple[str, ...]]]:
    """Every statement in document order, nested ones included, with the classes around it."""
    stack: list[tuple[Iterator[ast.stmt], tuple[str, ...]]] = [(iter(body), ())]
    while stack:
        items, classes = stack[-1]
        stmt = next(items, None)
        if stmt is None:
            stack.pop()
            continue
        yield stmt, classes
        inner = (*classes, stmt.name) if isinstance(stmt, ast.ClassDef) else classes
        nested = [getattr(stmt, name, None) for name in ("body", "orelse", "finalbody")]
        nested += [h.body for h in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]]
        for block in reversed(nested):
            if isinstance(block, list) and block:
                stack.append((iter(block), inner))


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
            for node in ast.walk(root):
                if type(node) is ast.Call:
                    yield node
