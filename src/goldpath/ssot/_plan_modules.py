"""Planning module-style imports: `import goldpath.compat as legacy`, `import goldpath.compat`,
`from goldpath import compat`, a project's re-export module, and legacy paths spelled out.

Each `legacy.X` use becomes the canonical `goldpath.Y`, the import becomes `import goldpath`
(or stays next to it for uses that cannot move), string annotations follow.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.metadata import ImportAssignment, Scope, ScopeProvider

from goldpath.ssot._changes import ModuleMove, Plan, dotted
from goldpath.ssot._rules import Rules
from goldpath.ssot._scopes import module_root_free, references


class ModuleImports(cst.CSTVisitor):
    """The module-import half of the `Planner` (which fills these attributes)."""

    METADATA_DEPENDENCIES = (ScopeProvider,)

    rules: Rules
    plan: Plan
    parents: dict[cst.CSTNode, cst.CSTNode]
    stuck: set[cst.CSTNode]
    legacy_funcs: set[cst.CSTNode]
    module_imports: list[tuple[cst.ImportAlias, cst.Import | cst.ImportFrom, str]]
    added: set[tuple[Scope, str]]
    pending: list[tuple[cst.CSTNode, str]]

    def report(self, node: cst.CSTNode, message: str) -> None:
        """Record something a person has to change; its line is looked up only if needed."""
        self.pending.append((node, message))

    def _plan_module_import(
        self, alias: cst.ImportAlias, statement: cst.Import | cst.ImportFrom, module: str
    ) -> None:
        """`legacy.X` uses of a legacy module import become `canonical_module.Y`."""
        scope = self.get_metadata(ScopeProvider, statement, None)
        if scope is None:
            return
        local = alias.evaluated_alias or dotted(alias.name)
        if isinstance(statement, cst.ImportFrom):
            local = alias.evaluated_alias or dotted(alias.name).rpartition(".")[2]
        # A project's re-export module also holds names of its own: those uses are no
        # legacy, so they keep its import without a report.
        legacy = module in self.rules.deprecated_modules
        needed: set[str] = set()
        kept = loud = False
        for ref in references(scope, statement, local):
            parent = self.parents.get(ref)
            if isinstance(parent, cst.Attribute) and parent.value is ref:
                old = f"{module}.{parent.attr.value}"
                target = self.rules.moves.get(old)
                if (
                    target is not None
                    and parent not in self.stuck
                    and self._root_free(parent, target)
                ):
                    self.plan.attributes[parent] = target
                    needed.add(target.rpartition(".")[0])
                    continue
                kept = True
                # a name the project's module defines itself is no legacy
                known = legacy or old in self.rules.legacy_calls
                loud = loud or target is not None or known
                if target is None and known and not self._in_legacy_call(parent):
                    self.report(parent, f"`{old}` has no canonical move; replace it by hand")
                elif target is not None and parent not in self.stuck:
                    self.report(
                        parent,
                        f"`{dotted(parent)}` left as is: `{target.partition('.')[0]}` means "
                        "something else here; rewrite it by hand",
                    )
            elif isinstance(ref, cst.SimpleString) and (
                modules := self._annotation(ref, local, module)
            ):
                needed |= modules
            else:
                kept = True
                if legacy:
                    loud = True
                    self.report(
                        ref,
                        f"string {ref.value} names legacy `{local}` attributes without a "
                        "canonical move; update it by hand"
                        if isinstance(ref, cst.SimpleString)
                        else f"`{local}` used as a module object; left as is: "
                        "point it at the canonical module by hand",
                    )
        if not needed:
            if legacy and not kept:
                self.report(
                    statement,
                    f"`{module}` import not rewritten: nothing here uses it; remove it, or "
                    "import the canonical module instead",
                )
            return
        add = tuple(m for m in sorted(needed) if self._claim(scope, statement, m))
        self.plan.module_moves[alias] = ModuleMove(add, kept)
        if loud:
            self.report(
                statement,
                f"`{module}` import kept for the uses left as is (reported at their lines); "
                "remove it once they are migrated",
            )

    def _plan_spelled_out(self, node: cst.Attribute) -> None:
        """`goldpath.compat.ExecutionEngine` reached through `import goldpath`: the canonical
        `goldpath.UserExecutionEngine` needs no other import."""
        if node in self.plan.attributes or node in self.stuck:
            return
        name = dotted(node)
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None or {q.name for q in scope.get_qualified_names_for(node)} != {name}:
            return
        target = self.rules.moves[name]
        if target.partition(".")[0] == name.partition(".")[0] and self._root_free(node, target):
            self.plan.attributes[node] = target

    def _annotation(self, ref: cst.SimpleString, local: str, module: str) -> set[str]:
        """A string annotation (`"legacy.ExecutionEngine | None"`) planned with canonical
        names; the modules they need, or nothing when one of its names has no move."""
        pattern = re.compile(rf"(?<![\w.]){re.escape(local)}\.(\w+)")
        targets = [self.rules.moves.get(f"{module}.{m[1]}") for m in pattern.finditer(ref.value)]
        if "b" in ref.prefix.lower() or not targets or None in targets:
            return set()
        moves = self.rules.moves
        self.plan.renames[ref] = pattern.sub(lambda m: moves[f"{module}.{m[1]}"], ref.value)
        return {str(t).rpartition(".")[0] for t in targets}

    def _claim(self, scope: Scope, statement: cst.CSTNode, module: str) -> bool:
        """Whether this statement must add `import module` (not yet imported in its scope)."""
        if (scope, module) in self.added:
            return False
        self.added.add((scope, module))
        legacy = {s for _, s, _ in self.module_imports}
        for assignment in scope[module.partition(".")[0]]:
            node = assignment.node if isinstance(assignment, ImportAssignment) else None
            if (
                isinstance(node, cst.Import)
                and node not in legacy
                and any(dotted(a.name) == module and a.asname is None for a in node.names)
            ):
                return False
        return True

    def _root_free(self, use: cst.Attribute, target: str) -> bool:
        scope = self.get_metadata(ScopeProvider, use, None)
        return scope is not None and module_root_free(scope, target)

    def _in_legacy_call(self, node: cst.CSTNode) -> bool:
        current: cst.CSTNode | None = node
        while isinstance(current, cst.Attribute):
            if current in self.legacy_funcs:
                return True
            current = self.parents.get(current)
        return False
