"""First pass of a migration: decide what each import, name and call becomes, before editing.

Deciding up front keeps the edit pass simple and keeps one rule: a change is made only when
every place it touches can change with it. A legacy constructor call that cannot be awaited
pins its import (the call is reported, the name is left alone), and a local name with other
bindings keeps its name through an alias instead of being renamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import (
    ImportAssignment,
    Scope,
    ScopeProvider,
)

from goldpath.ssot._rules import FactoryRewrite, Rules


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One imported name moving: `from <new_module> import <name> [as <asname>]`."""

    new_module: str
    name: str
    asname: str | None


@dataclass
class Plan:
    """Everything the edit pass needs, keyed by original nodes."""

    moves: dict[cst.ImportAlias, AliasMove] = field(default_factory=dict)
    touched: set[cst.CSTNode] = field(default_factory=set)
    renames: dict[cst.CSTNode, str] = field(default_factory=dict)
    constructors: dict[cst.Call, FactoryRewrite] = field(default_factory=dict)
    keywords: dict[cst.Arg, str] = field(default_factory=dict)
    reports: list[tuple[int, str]] = field(default_factory=list)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


class Planner(cst.CSTVisitor):
    """Walks the original tree once and fills a `Plan`."""

    METADATA_DEPENDENCIES = (ScopeProvider,)

    def __init__(self, rules: Rules) -> None:
        super().__init__()
        self.rules = rules
        self.plan = Plan()
        self.frames: list[str] = []
        self.rewrites = {r.constructor: r for r in rules.factory_rewrites}
        self.pinned: set[str] = set()
        self.imports: list[cst.ImportFrom] = []
        self.candidates: list[tuple[cst.Call, str, FactoryRewrite]] = []
        self.pending: list[tuple[cst.CSTNode, str]] = []
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.stack: list[cst.CSTNode] = []
        old_modules = {q.rpartition(".")[0] for q in rules.moves} | set(rules.deprecated_modules)
        self.old_modules = tuple(sorted(old_modules))

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.parents[node] = self.stack[-1]
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self.stack.pop()

    def report(self, node: cst.CSTNode, message: str) -> None:
        """Record something a person has to change; its line is looked up only if needed."""
        self.pending.append((node, message))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append("async" if node.asynchronous else "sync")

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append("lambda")

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self.frames.append("comprehension")

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self.frames.pop()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self.frames.append("comprehension")

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self.frames.pop()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self.frames.append("comprehension")

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self.frames.pop()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.frames.append("comprehension")

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self.frames.pop()

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = _dotted(alias.name)
            if self._is_old(name):
                self.report(
                    node,
                    f"`import {name}` not rewritten: change `{name}.X` uses to the canonical "
                    "names by hand (e.g. `from goldpath import X`)",
                )

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module is not None and not node.relative else ""
        if not module or not self._is_old(module):
            return
        if isinstance(node.names, cst.ImportStar):
            self.report(
                node,
                f"`from {module} import *` not rewritten: list the names you use and import "
                "them from their canonical module",
            )
            return
        line = self.stack[-2] if len(self.stack) > 1 else None
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            self.report(node, f"`from {module} import ...` shares its line; put it on its own line")
            for alias in node.names:
                self.pinned.add(f"{module}.{_dotted(alias.name)}")
            return
        self.imports.append(node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if isinstance(value, str) and any(
            value == m or value.startswith(m + ".") for m in self.old_modules
        ):
            self.report(
                node,
                f"string {node.value} names a legacy path; update it by hand "
                "(e.g. mock.patch targets) to the canonical module",
            )

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.get_metadata(ScopeProvider, node.func, None)
        names = {q.name for q in scope.get_qualified_names_for(node.func)} if scope else set()
        for name in names:
            rewrite = self.rewrites.get(name)
            if rewrite is not None:
                self._constructor(node, name, rewrite)
            if name in self.rules.legacy_calls:
                self.report(
                    node, f"legacy `{name}(...)` not rewritten: {self.rules.legacy_calls[name]}"
                )
            canonical = self.rules.canonical_of(name)
            for rename in self.rules.keyword_renames:
                if rename.callee in (name, canonical):
                    self._keyword(node, rename.old, rename.new)

    def _constructor(self, node: cst.Call, name: str, rewrite: FactoryRewrite) -> None:
        moved = self.rules.canonical_of(name)
        if rewrite.factory_class != moved:
            self.report(
                node,
                f"`{name}(...)` not rewritten: factory {rewrite.factory} is not on {moved}; "
                "make the factory's class the constructor's move target",
            )
            self.pinned.add(name)
            return
        frame = self.frames[-1] if self.frames else "module"
        if frame != "async" or not isinstance(node.func, cst.Name):
            where = "an attribute callee" if frame == "async" else f"a {frame} scope"
            self.report(
                node,
                f"`{_dotted(node.func)}(...)` in {where} cannot become "
                f"`await {rewrite.factory.rpartition('.')[0].rpartition('.')[2]}."
                f"{rewrite.method}(...)`; use `factory.create_for_user(ctx)` by hand",
            )
            self.pinned.add(name)
            return
        self.candidates.append((node, name, rewrite))

    def _keyword(self, node: cst.Call, old: str, new: str) -> None:
        present = {arg.keyword.value for arg in node.args if arg.keyword is not None}
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == old:
                if new in present:
                    self.report(node, f"`{old}=` not renamed: the call already passes `{new}=`")
                else:
                    self.plan.keywords[arg] = new

    def leave_Module(self, original_node: cst.Module) -> None:
        for call, name, rewrite in self.candidates:
            if name in self.pinned:
                self.report(
                    call,
                    f"`{_dotted(call.func)}(...)` left as is: another use of {name} in this "
                    "file cannot be rewritten, and both must change together",
                )
            else:
                self.plan.constructors[call] = rewrite
        for node in self.imports:
            self._plan_import(node)
        plan = self.plan
        for target in [*plan.moves, *plan.renames, *plan.constructors, *plan.keywords]:
            self._touch(target)

    def _touch(self, node: cst.CSTNode) -> None:
        """Mark `node` and its ancestors: the edit pass only descends into marked nodes."""
        current: cst.CSTNode | None = node
        while current is not None and current not in self.plan.touched:
            self.plan.touched.add(current)
            current = self.parents.get(current)

    def _plan_import(self, node: cst.ImportFrom) -> None:
        assert node.module is not None
        assert not isinstance(node.names, cst.ImportStar)
        module = _dotted(node.module)
        scope = self.get_metadata(ScopeProvider, node)
        for alias in node.names:
            old = f"{module}.{_dotted(alias.name)}"
            target = self.rules.moves.get(old)
            if target is None or old in self.pinned:
                if old in self.rules.legacy_calls or old not in self.rules.moves:
                    self.report(node, f"`{old}` has no canonical move; replace it by hand")
                continue
            new_module, _, new_name = target.rpartition(".")
            local = alias.evaluated_alias or _dotted(alias.name)
            asname = alias.evaluated_alias
            if asname is None and new_name != local:
                if scope is not None and self._can_rename(scope, node, local, target):
                    self._rename(scope, node, local, new_name)
                else:
                    asname = local
            if asname == new_name:
                asname = None
            self.plan.moves[alias] = AliasMove(new_module, new_name, asname)

    def _can_rename(self, scope: Scope, node: cst.ImportFrom, local: str, target: str) -> bool:
        """Renaming is safe when `local` has no other binding and the new name, where it is
        already visible, is only ever an import of the same target."""
        own = scope.assignments[local]
        if any(not (isinstance(a, ImportAssignment) and a.node is node) for a in own):
            return False
        new = target.rpartition(".")[2]
        visible = scope[new]
        if not all(isinstance(a, ImportAssignment) for a in visible):
            return False
        return {q.name for q in scope.get_qualified_names_for(new)} <= {target}

    def _rename(self, scope: Scope, node: cst.ImportFrom, local: str, new: str) -> None:
        pattern = re.compile(rf"(?<![\w.]){re.escape(local)}\b")
        for assignment in scope.assignments[local]:
            if not (isinstance(assignment, ImportAssignment) and assignment.node is node):
                continue
            for access in assignment.references:
                ref = access.node
                if isinstance(ref, cst.Name):
                    self.plan.renames[ref] = new
                elif isinstance(ref, cst.SimpleString) and "b" not in ref.prefix.lower():
                    self.plan.renames[ref] = pattern.sub(new, ref.value)

    def _is_old(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.old_modules)
