"""First pass of a migration: decide what each import, name and call becomes, before editing.

Deciding up front keeps the edit pass simple. A use that cannot be rewritten (a legacy
constructor where `await` is not allowed, a module object passed around) does not hold the
others back: every other use moves to the canonical name, the old import stays for what is
left next to the new one, and both the stuck use and the kept import are reported. A local
name with other bindings keeps its name through an alias instead of being renamed.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.metadata import ImportAssignment, Scope, ScopeProvider

from goldpath.ssot._changes import AliasMove, Plan, dotted
from goldpath.ssot._plan_modules import ModuleImports
from goldpath.ssot._rules import FactoryRewrite, Rules
from goldpath.ssot._scopes import absolute, can_rename, references

# Where a call sits, as the reports say it; `await` is allowed only in an async function's
# own body and its list, set and dict comprehensions.
WHERE = {
    "sync": "in a sync function",
    "lambda": "in a lambda",
    "generator": "in a generator expression (await would make it an async generator)",
    "class": "in a class body",
    "module": "at module level",
}


class Planner(ModuleImports):
    """Walks the original tree once and fills a `Plan`.

    `package` is the dotted package of the file (None when unknown), used to resolve
    relative imports such as `from .. import compat`.
    """

    def __init__(self, rules: Rules, package: str | None = None) -> None:
        super().__init__()
        self.rules = rules
        self.package = package
        self.plan = Plan()
        self.frames: list[str] = []
        self.rewrites = {r.constructor: r for r in rules.factory_rewrites}
        self.stuck: set[cst.CSTNode] = set()
        self.legacy_funcs: set[cst.CSTNode] = set()
        self.imports: list[tuple[cst.ImportFrom, str]] = []
        self.module_imports: list[tuple[cst.ImportAlias, cst.Import | cst.ImportFrom, str]] = []
        self.spelled_out: list[cst.Attribute] = []
        self.candidates: list[tuple[cst.Call, FactoryRewrite]] = []
        self.pending: list[tuple[cst.CSTNode, str]] = []
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.stack: list[cst.CSTNode] = []
        self.added: set[tuple[Scope, str]] = set()
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

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append("async" if node.asynchronous else "sync")

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append("lambda")

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.append("class")

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.frames.append("generator")

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self.frames.pop()

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted(alias.name)
            if name in self.old_modules:
                self.module_imports.append((alias, node, name))
            elif self._is_old(name):
                self.report(node, f"`import {name}` not rewritten: it has no canonical module")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = self._absolute(node)
        if not module:
            return
        if not self._is_old(module):
            if not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    if f"{module}.{dotted(alias.name)}" in self.old_modules:
                        self.module_imports.append((alias, node, f"{module}.{dotted(alias.name)}"))
            return
        if isinstance(node.names, cst.ImportStar):
            self.report(
                node,
                f"`from {module} import *` not rewritten: list the names you use and import "
                "them from their canonical module",
            )
            return
        self.imports.append((node, module))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if dotted(node) in self.rules.moves:
            self.spelled_out.append(node)

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
        for name in {absolute(n, self.package) for n in names}:
            rewrite = self.rewrites.get(name)
            if rewrite is not None:
                self._constructor(node, name, rewrite)
            if name in self.rules.legacy_calls:
                self.legacy_funcs.add(node.func)
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
            self.stuck.add(node.func)
            return
        frame = self.frames[-1] if self.frames else "module"
        if frame != "async":
            self.report(
                node,
                f"`{dotted(node.func)}(...)` {WHERE[frame]} cannot become "
                f"`await {rewrite.factory.rpartition('.')[0].rpartition('.')[2]}."
                f"{rewrite.method}(...)`; use `factory.create_for_user(ctx)` by hand",
            )
            self.stuck.add(node.func)
            return
        self.candidates.append((node, rewrite))

    def _keyword(self, node: cst.Call, old: str, new: str) -> None:
        present = {arg.keyword.value for arg in node.args if arg.keyword is not None}
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == old:
                if new in present:
                    self.report(node, f"`{old}=` not renamed: the call already passes `{new}=`")
                else:
                    self.plan.keywords[arg] = new

    def leave_Module(self, original_node: cst.Module) -> None:
        for node, module in self.imports:
            self._plan_import(node, module)
        for alias, statement, module in self.module_imports:
            self._plan_module_import(alias, statement, module)
        for attribute in self.spelled_out:
            self._plan_spelled_out(attribute)
        plan = self.plan
        for call, rewrite in self.candidates:
            func = call.func
            moved = func in plan.renames or func in plan.attributes or self._moved_name(func)
            if moved:
                plan.constructors[call] = rewrite
            else:
                self.report(
                    call,
                    f"`{dotted(func)}(...)` left as is: its import could not move, so it "
                    "cannot become the canonical factory call; migrate it by hand",
                )
        for target in [
            *plan.moves,
            *plan.module_moves,
            *plan.attributes,
            *plan.renames,
            *plan.constructors,
            *plan.keywords,
        ]:
            self._touch(target)

    def _moved_name(self, func: cst.BaseExpression) -> bool:
        """A callee name whose import alias moves while keeping its local name."""
        if not isinstance(func, cst.Name):
            return False
        scope = self.get_metadata(ScopeProvider, func, None)
        if scope is None:
            return False
        for assignment in scope[func.value]:
            if isinstance(assignment, ImportAssignment) and isinstance(
                assignment.node, cst.ImportFrom
            ):
                names = assignment.node.names
                if not isinstance(names, cst.ImportStar) and any(
                    (a.evaluated_alias or dotted(a.name)) == func.value
                    and a in self.plan.moves
                    and not self.plan.moves[a].keep_old
                    for a in names
                ):
                    return True
        return False

    def _touch(self, node: cst.CSTNode) -> None:
        """Mark `node` and its ancestors: the edit pass only descends into marked nodes."""
        current: cst.CSTNode | None = node
        while current is not None and current not in self.plan.touched:
            self.plan.touched.add(current)
            current = self.parents.get(current)

    def _plan_import(self, node: cst.ImportFrom, module: str) -> None:
        assert not isinstance(node.names, cst.ImportStar)
        scope = self.get_metadata(ScopeProvider, node)
        for alias in node.names:
            old = f"{module}.{dotted(alias.name)}"
            target = self.rules.moves.get(old)
            if target is None:
                if module in self.rules.deprecated_modules:  # not a project's own name
                    self.report(node, f"`{old}` has no canonical move; replace it by hand")
                continue
            new_module, _, new_name = target.rpartition(".")
            local = alias.evaluated_alias or dotted(alias.name)
            refs = references(scope, node, local) if scope is not None else set()
            if refs and refs <= self.stuck:
                continue  # every use is stuck (and reported): the import stays as it is
            if scope is not None and refs & self.stuck:
                self._split(scope, node, alias, old, target)
                continue
            asname = alias.evaluated_alias
            if asname is None and new_name != local:
                if scope is not None and can_rename(scope, node, local, target):
                    self._rename(scope, node, local, new_name)
                else:
                    asname = local
            if asname == new_name:
                asname = None
            self.plan.moves[alias] = AliasMove(new_module, new_name, asname)

    def _split(
        self, scope: Scope, node: cst.ImportFrom, alias: cst.ImportAlias, old: str, target: str
    ) -> None:
        """Some uses of `old` are stuck: move the others to the canonical name, keep both."""
        local = alias.evaluated_alias or dotted(alias.name)
        new_module, _, new_name = target.rpartition(".")
        if new_name == local or not can_rename(scope, node, local, target):
            self.report(
                node,
                f"`{old}` import kept as is: some of its uses cannot be rewritten and "
                f"`{new_name}` cannot be imported next to `{local}`; migrate them by hand",
            )
            return
        self._rename(scope, node, local, new_name, keep=self.stuck)
        self.plan.moves[alias] = AliasMove(new_module, new_name, None, keep_old=True)
        self.report(
            node,
            f"`{old}` import kept next to `{target}` for the uses left as is (reported at "
            "their lines); remove it once they are migrated",
        )

    def _rename(
        self,
        scope: Scope,
        node: cst.ImportFrom,
        local: str,
        new: str,
        keep: set[cst.CSTNode] | None = None,
    ) -> None:
        pattern = re.compile(rf"(?<![\w.]){re.escape(local)}\b")
        for ref in references(scope, node, local):
            if keep is not None and ref in keep:
                continue
            if isinstance(ref, cst.Name):
                self.plan.renames[ref] = new
            elif isinstance(ref, cst.SimpleString) and "b" not in ref.prefix.lower():
                self.plan.renames[ref] = pattern.sub(new, ref.value)

    def _absolute(self, node: cst.ImportFrom) -> str:
        """The module a `from` import names, relative ones resolved against the package."""
        module = dotted(node.module) if node.module is not None else ""
        if not node.relative:
            return module
        return absolute("." * len(node.relative) + module, self.package) if self.package else ""

    def _is_old(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.old_modules)
