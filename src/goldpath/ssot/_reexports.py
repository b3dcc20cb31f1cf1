"""A project's own re-export modules, and rules that see through them.

A re-export module binds legacy names at module level for other modules to import
(`app/compat.py` holding `from goldpath.compat import ExecutionEngine, UserExecutionContext`).
It is one when it lists such a name in `__all__`, or when it holds nothing but imports
(a docstring, `__all__` and `try`/`if` blocks of imports allowed). Such a module is left as
it is and reported: editing it would break whoever imports those names from it. What its
importers write (`from .. import compat` then `compat.UserExecutionContext(...)`, or
`from app.compat import ExecutionEngine`) is migrated like the legacy module itself:
`see_through` adds `app.compat.<name>` to the rules wherever `goldpath.compat.<name>` is.

Module names come from the package layout: a file's module is its path from the topmost
directory of the chain of `__init__.py` directories above it.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from goldpath.ssot._files import SourceFile, decode
from goldpath.ssot._rules import FactoryRewrite, Rules


@dataclass(frozen=True, slots=True)
class ReExport:
    """One re-export module: its file, the line of its first legacy import, and the legacy
    name each of its names is bound to."""

    file: SourceFile
    line: int
    names: dict[str, str]

    def advice(self) -> str:
        """The report for the module itself."""
        names = ", ".join(sorted(self.names)[:5])
        if len(self.names) > 5:
            names += f" and {len(self.names) - 5} more"
        return (
            f"{self.file.display}:{self.line}: re-exports legacy names ({names}) for other "
            "modules: left as is so their importers keep working (their uses in this tree now "
            "point at the canonical names); once nothing imports them from here, import them "
            "from their canonical module or delete this module"
        )


class Packages:
    """Dotted module names of files, from the `__init__.py` files above them (cached)."""

    def __init__(self) -> None:
        self.is_package: dict[Path, bool] = {}

    def module(self, path: Path) -> str:
        """`app/sub/x.py` is `app.sub.x` when `app/` and `app/sub/` hold an `__init__.py`."""
        parts = [] if path.name == "__init__.py" else [path.stem]
        directory = path.resolve().parent
        while directory.parent != directory and self._package(directory):
            parts.append(directory.name)
            directory = directory.parent
        return ".".join(reversed(parts))

    def package(self, path: Path) -> str | None:
        """The package relative imports in `path` start from (None outside any package)."""
        module = self.module(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        return package or None

    def _package(self, directory: Path) -> bool:
        found = self.is_package.get(directory)
        if found is None:
            found = self.is_package[directory] = (directory / "__init__.py").is_file()
        return found


def find_reexports(
    files: list[tuple[SourceFile, bytes]], rules: Rules, packages: Packages
) -> dict[str, ReExport]:
    """The re-export modules among `files`, by module name."""
    marks = tuple(m.encode() for m in rules.deprecated_modules)
    found = {}
    for file, data in files:
        if not any(mark in data for mark in marks):
            continue
        try:
            tree = ast.parse(decode(data)[0])
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        names: dict[str, str] = {}
        listed: set[str] = set()
        lines: list[int] = []
        only_imports = _collect(tree.body, rules, names, listed, lines)
        if names and (only_imports or listed & names.keys()):
            found[packages.module(file.path)] = ReExport(file, min(lines), names)
    return found


def _collect(
    body: list[ast.stmt], rules: Rules, names: dict[str, str], listed: set[str], lines: list[int]
) -> bool:
    """Gather legacy bindings and `__all__` entries; True when `body` is only imports."""
    only_imports = True
    for stmt in body:
        if isinstance(stmt, ast.ImportFrom):
            module = stmt.module or ""
            if not stmt.level and _deprecated(module, rules):
                lines.append(stmt.lineno)
                for alias in stmt.names:
                    if alias.name == "*":
                        names.update(_every_name(module, rules))
                    else:
                        names[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(stmt, ast.Try | ast.If):
            blocks = [stmt.body, stmt.orelse, *[h.body for h in getattr(stmt, "handlers", [])]]
            for block in blocks:
                only_imports &= _collect(block, rules, names, listed, lines)
        elif _all_assignment(stmt):
            listed.update(
                n.value
                for n in ast.walk(stmt)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
        elif not (
            isinstance(stmt, ast.Import | ast.Pass)
            or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        ):
            only_imports = False
    return only_imports


def _every_name(module: str, rules: Rules) -> dict[str, str]:
    """What `from module import *` can bind that the rules know of."""
    qualified = [*rules.moves, *rules.legacy_calls]
    return {
        name.partition(".")[0]: f"{module}.{name.partition('.')[0]}"
        for name in (q[len(module) + 1 :] for q in qualified if q.startswith(module + "."))
    }


def _all_assignment(stmt: ast.stmt) -> bool:
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        targets = [stmt.target]
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def _deprecated(module: str, rules: Rules) -> bool:
    return any(module == d or module.startswith(d + ".") for d in rules.deprecated_modules)


def see_through(rules: Rules, reexports: dict[str, ReExport]) -> Rules:
    """`rules` where every legacy name re-exported as `<module>.<name>` is legacy too."""
    if not reexports:
        return rules
    moves = dict(rules.moves)
    rewrites = list(rules.factory_rewrites)
    legacy_calls = dict(rules.legacy_calls)
    for module, reexport in reexports.items():
        for local, old in reexport.names.items():
            name = f"{module}.{local}"
            if old in rules.moves:
                moves[name] = rules.moves[old]
            rewrites += [
                FactoryRewrite(name, r.factory)
                for r in rules.factory_rewrites
                if r.constructor == old
            ]
            for key, advice in rules.legacy_calls.items():
                if key == old or key.startswith(old + "."):
                    legacy_calls[name + key[len(old) :]] = advice
    return dataclasses.replace(
        rules, moves=moves, factory_rewrites=tuple(rewrites), legacy_calls=legacy_calls
    )
