"""Second pass of a migration: apply a `Plan` to the tree, touching only planned nodes.

Import moves rewrite a `from` statement in place (keeping its parentheses, commas and
comments), or, for an uncommented statement at module level, merge the moved names into an
existing module-level `from <canonical> import ...` and drop what is left empty. Guarded imports
(`try/except ImportError`, `if TYPE_CHECKING:`) are always rewritten in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from goldpath.ssot._changes import AliasMove, Plan, dotted
from goldpath.ssot._plan import Planner
from goldpath.ssot._rules import Rules
from goldpath.ssot._splice import splice


@dataclass(frozen=True, slots=True)
class CodemodResult:
    """The migrated text and what was reported (line, message) for a person to do.

    `code` is the source with only the changed spans replaced. `inexact` means a change
    fell on text libcst does not reproduce, so nothing was changed (`code` is the source).
    """

    code: str
    reports: tuple[tuple[int, str], ...]
    inexact: bool = False


def migrate_source(source: str, rules: Rules, package: str | None = None) -> CodemodResult:
    """Apply the rules to one module's source; raises libcst.ParserSyntaxError if unparsable."""
    return migrate_module(cst.parse_module(source), source, rules, package)


def migrate_module(
    parsed: cst.Module, source: str, rules: Rules, package: str | None = None
) -> CodemodResult:
    """Apply the rules to an already parsed module whose code is `source`."""
    wrapper = MetadataWrapper(parsed, unsafe_skip_copy=True)
    planner = Planner(rules, package)
    wrapper.visit(planner)
    plan = planner.plan
    if planner.pending:
        # Positions cost a full pass, so they are resolved only when there is a report.
        positions = wrapper.resolve(PositionProvider)
        plan.reports = [(positions[node].start.line, msg) for node, msg in planner.pending]
    reports = tuple(sorted(plan.reports))
    if not plan.changes():
        return CodemodResult(source, reports)
    changed = wrapper.module.visit(_Editor(plan)).code
    spliced = splice(source, wrapper.module.code, changed)
    if spliced is None:
        return CodemodResult(source, reports, inexact=True)
    return CodemodResult(spliced, reports)


def _module_expr(dotted: str) -> cst.Attribute | cst.Name:
    expr = cst.parse_expression(dotted)
    assert isinstance(expr, cst.Attribute | cst.Name)
    return expr


def _alias(move: AliasMove) -> cst.ImportAlias:
    asname = cst.AsName(cst.Name(move.asname)) if move.asname else None
    return cst.ImportAlias(name=cst.Name(move.name), asname=asname)


def _key(alias: cst.ImportAlias) -> tuple[str, str | None]:
    return dotted(alias.name), alias.evaluated_alias


def _with_names(node: cst.ImportFrom, aliases: Sequence[cst.ImportAlias]) -> cst.ImportFrom:
    """`node` with these names; a trailing comma is dropped unless parentheses allow it."""
    names = list(aliases)
    if node.lpar is None and names:
        names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return node.with_changes(names=names)


class _Editor(cst.CSTTransformer):
    """Applies the plan; merges moved top-level imports into existing canonical imports."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.merge: dict[str, list[cst.ImportAlias]] = {}
        self.targets: dict[str, cst.ImportFrom] = {}
        self.top_level: set[cst.ImportFrom] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Descend only where the plan changes something; leave hooks still run."""
        return node in self.plan.touched and super().on_visit(node)

    def visit_Module(self, node: cst.Module) -> None:
        """Find module-level canonical imports that moved names can join."""
        wanted = {m.new_module for m in self.plan.moves.values()}
        for stmt in node.body:
            if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.ImportFrom)
                    and small.module is not None
                    and not small.relative
                    and not isinstance(small.names, cst.ImportStar)
                    and dotted(small.module) in wanted
                ):
                    self.targets.setdefault(dotted(small.module), small)
        for stmt in node.body:
            if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                for small in stmt.body:
                    if (
                        isinstance(small, cst.ImportFrom)
                        and not isinstance(small.names, cst.ImportStar)
                        and not _has_comment(stmt)
                    ):
                        self.top_level.add(small)
                        for alias in small.names:
                            move = self.plan.moves.get(alias)
                            if move is not None and move.new_module in self.targets:
                                self.merge.setdefault(move.new_module, []).append(_alias(move))

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> (
        cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine] | cst.RemovalSentinel
    ):
        parts: list[cst.BaseSmallStatement] = []
        changed = False
        for node, updated in zip(original_node.body, updated_node.body, strict=True):
            new = self._statement(node, updated)
            changed = changed or new is not None
            parts.extend([updated] if new is None else new)
        if not changed:
            return updated_node
        if not parts:
            return cst.RemovalSentinel.REMOVE
        last = original_node.body[-1].semicolon
        if len(original_node.body) > 1:
            # statements sharing a line through `;` stay on it
            body = [_semicolon(p, cst.Semicolon(whitespace_after=_SPACE)) for p in parts[:-1]]
            return updated_node.with_changes(body=[*body, _semicolon(parts[-1], last)])
        lines = [updated_node.with_changes(body=[_semicolon(parts[0], last)])]
        lines += [
            cst.SimpleStatementLine([_semicolon(p, cst.MaybeSentinel.DEFAULT)]) for p in parts[1:]
        ]
        return lines[0] if len(lines) == 1 else cst.FlattenSentinel(lines)

    def _statement(
        self, node: cst.BaseSmallStatement, updated: cst.BaseSmallStatement
    ) -> list[cst.BaseSmallStatement] | None:
        """What one import statement becomes (None: unchanged)."""
        if isinstance(node, cst.Import):
            assert isinstance(updated, cst.Import)
            return self._import(node, updated)
        if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
            return None
        assert isinstance(updated, cst.ImportFrom)
        if node.module is not None and self.targets.get(dotted(node.module)) is node:
            existing = list(node.names)
            seen = {_key(a) for a in existing}
            for alias in self.merge.get(dotted(node.module), []):
                if _key(alias) not in seen:
                    seen.add(_key(alias))
                    if existing and existing[-1].comma == cst.MaybeSentinel.DEFAULT:
                        existing[-1] = existing[-1].with_changes(
                            comma=cst.Comma(whitespace_after=_SPACE)
                        )
                    existing.append(alias)
            return [_with_names(updated, existing)]
        return self._move(node, updated)

    def _import(self, node: cst.Import, updated: cst.Import) -> list[cst.BaseSmallStatement] | None:
        """`import goldpath.compat [as legacy]`: the canonical modules instead (or as well)."""
        kept: list[cst.ImportAlias] = []
        added: list[str] = []
        for alias in node.names:
            move = self.plan.module_moves.get(alias)
            if move is None or move.keep_old:
                kept.append(alias)
            if move is not None:
                added.extend(m for m in move.add if m not in added)
        if len(kept) == len(node.names) and not added:
            return None
        out: list[cst.BaseSmallStatement] = []
        if kept:
            out.append(_with_import_names(updated, kept))
        elif added:
            out.append(_with_import_names(updated, [_module_alias(added.pop(0))]))
        out += [cst.Import(names=[_module_alias(m)]) for m in added]
        return out

    def _move(
        self, node: cst.ImportFrom, updated: cst.ImportFrom
    ) -> list[cst.BaseSmallStatement] | None:
        assert not isinstance(node.names, cst.ImportStar)
        kept: list[cst.ImportAlias] = []
        moved: dict[str, list[cst.ImportAlias]] = {}
        modules: list[str] = []
        for alias in node.names:
            module_move = self.plan.module_moves.get(alias)
            if module_move is not None:
                if module_move.keep_old:
                    kept.append(alias)
                modules.extend(m for m in module_move.add if m not in modules)
                continue
            move = self.plan.moves.get(alias)
            if move is None or move.keep_old:
                kept.append(alias)
            if move is None:
                continue
            if move.new_module not in self.targets or node not in self.top_level:
                if move.keep_old:
                    renamed = _alias(move)
                else:
                    asname = cst.AsName(cst.Name(move.asname)) if move.asname else None
                    renamed = alias.with_changes(name=cst.Name(move.name), asname=asname)
                moved.setdefault(move.new_module, []).append(renamed)
        if not moved and not modules and len(kept) == len(node.names):
            return None
        out: list[cst.BaseSmallStatement] = []
        if kept:
            out.append(_with_names(updated, kept))
        for module, aliases in moved.items():
            out.append(
                _with_names(updated.with_changes(module=_module_expr(module), relative=()), aliases)
            )
        out += [cst.Import(names=[_module_alias(m)]) for m in modules]
        return out

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.plan.renames.get(original_node)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        new = self.plan.renames.get(original_node)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        new = self.plan.keywords.get(original_node)
        if new is None or updated_node.keyword is None:
            return updated_node
        return updated_node.with_changes(keyword=updated_node.keyword.with_changes(value=new))

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        rewrite = self.plan.constructors.get(original_node)
        if rewrite is None:
            return _parenthesise_func(updated_node)
        call = updated_node.with_changes(
            func=cst.Attribute(value=updated_node.func, attr=cst.Name(rewrite.method)),
            lpar=(),
            rpar=(),
        )
        return cst.Await(expression=call, lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.Attribute | cst.Name:
        target = self.plan.attributes.get(original_node)
        if target is not None:
            return _module_expr(target).with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
        return updated_node.with_changes(value=_paren(updated_node.value))

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.Subscript:
        return updated_node.with_changes(value=_paren(updated_node.value))


_SPACE = cst.SimpleWhitespace(" ")


def _semicolon(
    statement: cst.BaseSmallStatement, semicolon: cst.Semicolon | cst.MaybeSentinel
) -> cst.BaseSmallStatement:
    """`statement` ending with this semicolon; one it already has is kept when one is needed."""
    if isinstance(semicolon, cst.Semicolon) and isinstance(statement.semicolon, cst.Semicolon):
        return statement
    return statement.with_changes(semicolon=semicolon)


def _module_alias(module: str) -> cst.ImportAlias:
    return cst.ImportAlias(name=_module_expr(module))


def _with_import_names(node: cst.Import, aliases: list[cst.ImportAlias]) -> cst.Import:
    names = list(aliases)
    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return node.with_changes(names=names)


def _has_comment(line: cst.SimpleStatementLine) -> bool:
    """A commented import line is rewritten in place, never merged away with its comment."""
    return line.trailing_whitespace.comment is not None or any(
        empty.comment is not None for empty in line.leading_lines
    )


def _paren(expr: cst.BaseExpression) -> cst.BaseExpression:
    """An `await` used as the object of `.x`, `[i]` or `(...)` needs parentheses."""
    if isinstance(expr, cst.Await) and not expr.lpar:
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


def _parenthesise_func(call: cst.Call) -> cst.Call:
    return call.with_changes(func=_paren(call.func))
