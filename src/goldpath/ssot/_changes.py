"""What a migration plans to change, keyed by the original libcst nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from goldpath.ssot._rules import FactoryRewrite


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One imported name moving: `from <new_module> import <name> [as <asname>]`.

    With `keep_old` the old name stays imported too, for the uses that could not move.
    """

    new_module: str
    name: str
    asname: str | None
    keep_old: bool = False


@dataclass(frozen=True, slots=True)
class ModuleMove:
    """A legacy module import (`import goldpath.compat as legacy`, `from goldpath import compat`):
    `add` lists the canonical modules to import in its place, `keep_old` keeps it as well."""

    add: tuple[str, ...]
    keep_old: bool


@dataclass
class Plan:
    """Everything the edit pass needs, keyed by original nodes."""

    moves: dict[cst.ImportAlias, AliasMove] = field(default_factory=dict)
    module_moves: dict[cst.ImportAlias, ModuleMove] = field(default_factory=dict)
    attributes: dict[cst.Attribute, str] = field(default_factory=dict)
    touched: set[cst.CSTNode] = field(default_factory=set)
    renames: dict[cst.CSTNode, str] = field(default_factory=dict)
    constructors: dict[cst.Call, FactoryRewrite] = field(default_factory=dict)
    keywords: dict[cst.Arg, str] = field(default_factory=dict)
    reports: list[tuple[int, str]] = field(default_factory=list)

    def changes(self) -> bool:
        """Whether the plan edits anything."""
        return bool(
            self.moves or self.module_moves or self.renames or self.constructors or self.keywords
        )


def dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{dotted(node.value)}.{node.attr.value}"
    return ""
