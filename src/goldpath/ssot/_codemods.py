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

from goldpath.ssot._plan import AliasMove, Plan, Planner, _dotted
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


def migrate_source(source: str, rules: Rules) -> CodemodResult:
    """Apply the rules to one module's source; raises libcst.ParserSyntaxError if unparsable."""
    return migrate_module(cst.parse_module(source), source, rules)


def migrate_module(parsed: cst.Module, source: str, rules: Rules) -> CodemodResult:
    """Apply the rules to an already parsed module whose code is `source`."""
    wrapper = MetadataWrapper(parsed, unsafe_skip_copy=True)
    planner = Planner(rules)
    wrapper.visit(planner)
    plan = planner.plan
    if planner.pending:
        # Positions cost a full pass, so they are resolved only when there is a report.
        positions = wrapper.resolve(PositionProvider)
        plan.reports = [(positions[node].start.line, msg) for node, msg in planner.pending]
    reports = tuple(sorted(plan.reports))
    if not (plan.moves or plan.renames or plan.constructors or plan.keywords):
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
    return _dotted(alias.name), alias.evaluated_alias


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
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.ImportFrom)
                    and small.module is not None
                    and not small.relative
                    and not isinstance(small.names, cst.ImportStar)
                    and _dotted(small.module) in wanted
                ):
                    self.targets.setdefault(_dotted(small.module), small)
        for stmt in node.body:
            if isinstance(stmt, cst.SimpleStatementLine):
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
        if len(original_node.body) != 1 or not isinstance(original_node.body[0], cst.ImportFrom):
            return updated_node
        node = original_node.body[0]
        updated = updated_node.body[0]
        assert isinstance(updated, cst.ImportFrom)
        if isinstance(node.names, cst.ImportStar):
            return updated_node
        if node.module is not None and self.targets.get(_dotted(node.module)) is node:
            existing = list(node.names)
            seen = {_key(a) for a in existing}
            for alias in self.merge.get(_dotted(node.module), []):
                if _key(alias) not in seen:
                    seen.add(_key(alias))
                    if existing and existing[-1].comma == cst.MaybeSentinel.DEFAULT:
                        existing[-1] = existing[-1].with_changes(
                            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                        )
                    existing.append(alias)
            return updated_node.with_changes(body=[_with_names(updated, existing)])
        return self._move(node, updated, updated_node)

    def _move(
        self,
        node: cst.ImportFrom,
        updated: cst.ImportFrom,
        line: cst.SimpleStatementLine,
    ) -> (
        cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine] | cst.RemovalSentinel
    ):
        assert not isinstance(node.names, cst.ImportStar)
        kept: list[cst.ImportAlias] = []
        moved: dict[str, list[cst.ImportAlias]] = {}
        for alias in node.names:
            move = self.plan.moves.get(alias)
            if move is None:
                kept.append(alias)
            elif move.new_module not in self.targets or node not in self.top_level:
                asname = cst.AsName(cst.Name(move.asname)) if move.asname else None
                renamed = alias.with_changes(name=cst.Name(move.name), asname=asname)
                moved.setdefault(move.new_module, []).append(renamed)
        if not moved and len(kept) == len(node.names):
            return line
        lines: list[cst.SimpleStatementLine] = []
        if kept:
            lines.append(line.with_changes(body=[_with_names(updated, kept)]))
        for module, aliases in moved.items():
            new = _with_names(updated.with_changes(module=_module_expr(module)), aliases)
            lines.append(
                line.with_changes(body=[new]) if not lines else cst.SimpleStatementLine([new])
            )
        if not lines:
            return cst.RemovalSentinel.REMOVE
        return lines[0] if len(lines) == 1 else cst.FlattenSentinel(lines)

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
    ) -> cst.Attribute:
        return updated_node.with_changes(value=_paren(updated_node.value))

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.Subscript:
        return updated_node.with_changes(value=_paren(updated_node.value))


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
