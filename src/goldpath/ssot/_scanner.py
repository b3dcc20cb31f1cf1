"""One file's findings, from the stdlib `ast` alone so `check` stays fast."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase

from goldpath.ssot._files import SourceFile, decode
from goldpath.ssot._findings import Finding
from goldpath.ssot._requests import reads_client_data
from goldpath.ssot._shapes import duplicate_role
from goldpath.ssot._walk import Scan, calls, class_defs, class_lines, statements

MUTABLE_CALLS = frozenset(
    {
        "dict",
        "list",
        "set",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "bytearray",
        "ChainMap",
        "WeakValueDictionary",
        "WeakKeyDictionary",
        "WeakSet",
    }
)
CACHE_DECORATORS = frozenset({"lru_cache", "cache", "cached"})
MUTABLE_NODES = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
AGENT_TOOL_PARTS = frozenset({"agents", "tools", "agents.py", "tools.py"})


def scan_file(file: SourceFile, scan: Scan) -> list[Finding]:
    """Findings of one file; unreadable or unparsable files give a `parse_error` finding."""
    try:
        text, _ = decode(file.path.read_bytes())
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        return [_parse_error(file, 1, 0, f"cannot be read in its declared encoding ({exc})")]
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [_parse_error(file, exc.lineno or 1, max((exc.offset or 1) - 1, 0), exc.msg)]
    except ValueError as exc:
        return [_parse_error(file, 1, 0, str(exc))]
    scanner = _Scanner(file, scan)
    want_calls = scan.wants_calls(text)
    if not scan.needs_imports(text, want_calls):
        for node in class_defs(tree.body, class_lines(text)):
            scanner.check_class(node)
        scanner.finish(tree)
        return scanner.findings
    for stmt, classes in statements(tree.body):
        if isinstance(stmt, ast.Import):
            scanner.check_import(stmt)
        elif isinstance(stmt, ast.ImportFrom):
            scanner.check_import_from(stmt)
        elif isinstance(stmt, ast.ClassDef):
            scanner.check_class(stmt)
        if want_calls:
            scanner.calls.extend((call, classes) for call in calls(stmt))
    scanner.finish(tree)
    return scanner.findings


def _parse_error(file: SourceFile, line: int, col: int, why: str) -> Finding:
    return Finding(
        "parse_error",
        file.display,
        line,
        col,
        f"file does not parse: {why}; fix it so it can be checked and migrated",
        "",
        file.in_tests,
    )


class _Scanner:
    """Checks imports and classes as they come; resolves calls once imports are known."""

    def __init__(self, file: SourceFile, scan: Scan) -> None:
        self.file = file
        self.rules = scan.rules
        self.findings: list[Finding] = []
        self.bindings: dict[str, str] = {}
        self.calls: list[tuple[ast.Call, tuple[str, ...]]] = []
        self.engine_names = scan.engine_names
        self.context_names = scan.context_names

    def add(self, rule: str, node: ast.expr | ast.stmt, message: str, replacement: str) -> None:
        """Record one finding at `node`'s position."""
        self.findings.append(
            Finding(
                rule,
                self.file.display,
                node.lineno,
                node.col_offset,
                message,
                replacement,
                self.file.in_tests,
            )
        )

    def check_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bindings[alias.asname] = alias.name
            else:
                head = alias.name.partition(".")[0]
                self.bindings[head] = head
            if self._deprecated(alias.name):
                self.add(
                    "deprecated_import",
                    node,
                    f"`import {alias.name}` uses a deprecated module; import the canonical "
                    "module instead (`goldpath migrate` rewrites it and its uses)",
                    self._from_replacement(alias.name, ["*"]),
                )

    def check_import_from(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        for alias in node.names:
            self.bindings[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        names = [a.name for a in node.names]
        full = [f"{node.module}.{n}" for n in names]
        if self._deprecated(node.module) or any(self._deprecated(q) for q in full):
            if names == ["*"]:
                message = (
                    f"star import from deprecated `{node.module}`; import each name from its "
                    "canonical module (migrate cannot rewrite star imports)"
                )
            else:
                message = (
                    f"import from deprecated `{node.module}`; import from the canonical module"
                )
            parts = [
                f"{self.rules.canonical_of(f'{node.module}.{a.name}')}"
                + (f" as {a.asname}" if a.asname else "")
                for a in node.names
            ]
            self.add("deprecated_import", node, message, self._from_replacement(node.module, parts))

    def check_class(self, node: ast.ClassDef) -> None:
        found = duplicate_role(node, self.rules)
        if found is not None:
            role, why = found
            self.add(
                "duplicate_role",
                node,
                f"class {node.name} duplicates the {role.name} role by its {why}; "
                f"use {role.canonical} (one {role.name} for the whole codebase)",
                role.canonical,
            )

    def finish(self, tree: ast.Module) -> None:
        """Check the collected calls and, in agent/tool modules, module-level state."""
        for call, classes in self.calls:
            self._check_call(call, classes)
        if self._is_agent_or_tool_module(tree):
            self._check_module_state(tree.body)
        self.findings.sort(key=lambda f: (f.line, f.col, f.rule))

    def _check_call(self, call: ast.Call, classes: tuple[str, ...]) -> None:
        qualified = self._qualify(call.func)
        if qualified is None:
            return
        simple = qualified.rpartition(".")[2]
        if qualified in self.rules.engine_constructors or (
            "." not in qualified and qualified not in self.bindings and simple in self.engine_names
        ):
            if not self._in_factory(classes):
                rewrite = next(
                    (r for r in self.rules.factory_rewrites if r.constructor == qualified), None
                )
                target = rewrite.factory.rpartition(".")[0].rpartition(".")[2] if rewrite else ""
                replacement = (
                    f"await {target}.{rewrite.method}(...)"
                    if rewrite
                    else "factory.create_for_user(ctx)"
                )
                self.add(
                    "engine_outside_factory",
                    call,
                    f"engine made outside the factory with `{simple}(...)`; use "
                    f"`{replacement}` (better: `factory.create_for_user(ctx)`)",
                    replacement,
                )
        elif qualified in self.rules.legacy_calls:
            self.add(
                "legacy_call",
                call,
                f"legacy `{qualified}(...)`: {self.rules.legacy_calls[qualified]}",
                self.rules.legacy_calls[qualified],
            )
        canonical = self.rules.canonical_of(qualified)
        for rename in self.rules.keyword_renames:
            if canonical == rename.callee:
                for kw in call.keywords:
                    if kw.arg == rename.old:
                        self.add(
                            "legacy_keyword",
                            kw.value,
                            f"`{rename.old}=` on {simple} is legacy; pass `{rename.new}=`",
                            f"{rename.new}=",
                        )
        if simple in self.context_names:
            user_id = next((kw.value for kw in call.keywords if kw.arg == "user_id"), None)
            if user_id is None and call.args:
                user_id = call.args[0]
            if user_id is not None and reads_client_data(user_id):
                self.add(
                    "client_user_id",
                    user_id,
                    f"{simple} built from a client-supplied user id; take user_id from the "
                    "authenticated identity (the connection or request's auth), never from "
                    "what the client sends",
                    "user_id=<authenticated user id>",
                )

    def _check_module_state(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If | ast.Try | ast.With):
                nested = [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", [])]
                self._check_module_state(nested)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                dunder = all(n.startswith("__") for n in names)
                if names and not dunder and self._mutable(stmt.value):
                    self.add(
                        "module_state",
                        stmt,
                        f"module-level mutable `{names[0]}` in an agent/tool module is "
                        "shared by every user and run; keep state on the per-run agent or "
                        "pass it in the context (constants: tuple, frozenset, MappingProxyType)",
                        "per-run state or an immutable constant",
                    )
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                self._name_of(d) in CACHE_DECORATORS for d in stmt.decorator_list
            ):
                self.add(
                    "module_state",
                    stmt,
                    f"`{stmt.name}` caches results at module level, shared by every user; "
                    "cache per run or key the cache by something that is not user data",
                    "per-run cache",
                )

    def _mutable(self, value: ast.expr) -> bool:
        if isinstance(value, MUTABLE_NODES):
            return True
        return isinstance(value, ast.Call) and self._name_of(value.func) in MUTABLE_CALLS

    def _is_agent_or_tool_module(self, tree: ast.Module) -> bool:
        if AGENT_TOOL_PARTS & set(self.file.logical.parts):
            return True
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef) and any(
                self._name_of(b) == "Agent" for b in stmt.bases
            ):
                return True
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                self._name_of(d) == "tool" for d in stmt.decorator_list
            ):
                return True
        return False

    def _in_factory(self, classes: tuple[str, ...]) -> bool:
        if set(classes) & set(self.rules.factory_classes):
            return True
        path = self.file.path.resolve().as_posix()
        return any(fnmatchcase(path, pattern) for pattern in self.rules.factory_modules)

    def _deprecated(self, module: str) -> bool:
        return any(module == d or module.startswith(d + ".") for d in self.rules.deprecated_modules)

    def _from_replacement(self, module: str, qualified: list[str]) -> str:
        if qualified == ["*"]:
            return f"import the names you use from their canonical module instead of {module}"
        groups: dict[str, list[str]] = {}
        for item in qualified:
            name, _, alias = item.partition(" as ")
            mod, _, simple = name.rpartition(".")
            groups.setdefault(mod, []).append(simple + (f" as {alias}" if alias else ""))
        return "; ".join(f"from {mod} import {', '.join(names)}" for mod, names in groups.items())

    def _qualify(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        return ".".join([self.bindings.get(node.id, node.id), *reversed(parts)])

    @staticmethod
    def _name_of(node: ast.expr) -> str:
        """Last name of a decorator/base/callee: `tool`, `functools.lru_cache(...)` → lru_cache."""
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Attribute):
            return node.attr
        return node.id if isinstance(node, ast.Name) else ""
