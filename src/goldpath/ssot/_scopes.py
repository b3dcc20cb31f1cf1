"""Questions about names that the migration planner asks libcst's scope analysis."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ImportAssignment, Scope

from goldpath.ssot._changes import dotted


def references(scope: Scope, node: cst.CSTNode, local: str) -> set[cst.CSTNode]:
    """Every place the name `local` bound by the import `node` is used."""
    return {
        access.node
        for assignment in scope.assignments[local]
        if isinstance(assignment, ImportAssignment) and assignment.node is node
        for access in assignment.references
    }


def can_rename(scope: Scope, node: cst.ImportFrom, local: str, target: str) -> bool:
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


def module_root_free(scope: Scope, module: str) -> bool:
    """Whether the first name of `module` means a module import (or nothing yet) in `scope`."""
    root = module.partition(".")[0]
    return all(
        isinstance(a, ImportAssignment)
        and isinstance(a.node, cst.Import)
        and any(dotted(n.name).partition(".")[0] == root and n.asname is None for n in a.node.names)
        for a in scope[root]
    )


def absolute(name: str, package: str | None) -> str:
    """A qualified name made absolute: `..compat.X` in package `app.sub` is `app.compat.X`
    (unchanged when it is absolute already or cannot be resolved)."""
    if not name.startswith(".") or package is None:
        return name
    rest = name.lstrip(".")
    up = len(name) - len(rest) - 1
    parts = package.split(".")
    if up >= len(parts):
        return name
    base = ".".join(parts[: len(parts) - up])
    return f"{base}.{rest}" if rest else base
