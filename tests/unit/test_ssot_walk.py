"""goldpath.ssot._walk: each shortcut `check` takes gives what the full walk gives.

The shortcuts: a file whose text rules out deprecated imports and watched calls is walked
only down to its classes; the callee search skips to the names' first letters; calls are
collected without `ast.walk`. Each test compares a shortcut with the long way on files
made to trip it (other encodings, BOM, CR line ends, NFKC names, names only in strings).
"""

from __future__ import annotations

import ast
import codecs
from pathlib import Path

import pytest

from goldpath.ssot import CheckReport, check_tree, load_rules
from goldpath.ssot._walk import Scan, calls, class_defs, class_lines, statements

pytestmark = pytest.mark.unit

FILES: dict[str, tuple[bytes, list[tuple[str, int]]]] = {
    # name: (bytes, the findings expected as (rule, line))
    "latin1_cookie.py": (
        '# -*- coding: latin-1 -*-\n"""Café."""\nfrom goldpath.compat import Agent\n'
        "class CaféEmitter:\n    pass\n".encode("latin-1"),
        [("deprecated_import", 3), ("duplicate_role", 4)],
    ),
    "latin1_cookie_ascii.py": (
        b"# vim: set fileencoding=latin-1 :\nclass SideEmitter:\n    pass\n",
        [("duplicate_role", 2)],
    ),
    "bom.py": (
        codecs.BOM_UTF8 + b"import os\n\n\nclass OtherExecutionEngine:\n    pass\n",
        [("duplicate_role", 4)],
    ),
    "goldpath_in_a_string.py": (
        b'NOTE = "goldpath.compat is gone; ExecutionEngine ( too"\nclass Fine:\n    pass\n',
        [],
    ),
    "compat_alone.py": (b"import compat\n\nclass Plain:\n    x = compat\n", []),
    "module_style.py": (
        b"from goldpath import compat\nimport goldpath . compat\nfrom goldpath import \\\n"
        b"    compat as legacy\n",
        [("deprecated_import", 1), ("deprecated_import", 2), ("deprecated_import", 3)],
    ),
    "nfkc_name.py": (
        "from goldpath.\uff43ompat import Agent\n".encode(),
        [("deprecated_import", 1)],
    ),
    "reexports.py": (
        b'"""Re-exports."""\nfrom goldpath.compat import ExecutionEngine, UserExecutionContext\n'
        b'__all__ = ["ExecutionEngine", "UserExecutionContext"]\n',
        [("deprecated_import", 2)],
    ),
    "alias_call.py": (
        b"from goldpath.compat import ExecutionEngine as EE\n\n\n"
        b"async def make(r, b, contexts):\n    return [EE(r, b, c) for c in contexts]\n",
        [("deprecated_import", 1), ("engine_outside_factory", 5)],
    ),
    "cr_only.py": (
        b'X = """a\rb"""\r\rdef f():\r    if X:\r        class InnerNotifier:\r            pass\r',
        [("duplicate_role", 6)],  # the CR inside the string ends line 1, as in `ast`
    ),
    "crlf_nested.py": (
        b"def outer():\r\n    def inner():\r\n        @decorated\r\n"
        b"        class \\\r\n  DeepEmitter:\r\n            pass\r\n",
        [("duplicate_role", 4)],
    ),
    "class_in_docstring_only.py": (
        b'"""No class here."""\n\n\ndef f():\n    return "class OddEmitter"\n',
        [],
    ),
    "tools.py": (b"CACHE = {}\n\n\nclass Helper:\n    pass\n", [("module_state", 1)]),
    "broken.py": (b"class A:\n    def f(:\n", [("parse_error", 2)]),
}


def full_walk(monkeypatch: pytest.MonkeyPatch, root: Path) -> CheckReport:
    """`check` as it was before the shortcut: every file walked statement by statement."""
    with monkeypatch.context() as patched:
        patched.setattr(Scan, "needs_imports", lambda self, text, want_calls: True)
        return check_tree(root, jobs=1)


def test_fast_paths_give_the_full_walks_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (data, _) in FILES.items():
        (tmp_path / name).write_bytes(data)
    fast = check_tree(tmp_path, jobs=1)
    assert fast == full_walk(monkeypatch, tmp_path)
    for name, (_, expected) in FILES.items():
        got = [(f.rule, f.line) for f in fast.findings if Path(f.path).name == name]
        assert got == expected, name


def test_a_deprecated_module_of_several_parts_is_seen_in_any_import_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.goldpath.ssot]\ndeprecated_modules = ["acme.old.api"]\n', "utf-8"
    )
    (tmp_path / "uses.py").write_text(
        "from acme.old import api\nimport acme . old . api . v1\nfrom acme import old\n", "utf-8"
    )
    (tmp_path / "parts_apart.py").write_text("import acme\nOLD = 'old'\napi = 1\n", "utf-8")
    fast = check_tree(tmp_path, jobs=1)
    assert [(Path(f.path).name, f.line) for f in fast.findings] == [
        ("uses.py", 1),
        ("uses.py", 2),
    ]
    assert fast == full_walk(monkeypatch, tmp_path)


def test_needs_imports_only_when_text_allows_them() -> None:
    scan = Scan.prepare(load_rules(Path(".")))
    assert not scan.needs_imports("from goldpath import UserExecutionContext\n", False)
    assert not scan.needs_imports("import compat\n", False)
    assert scan.needs_imports("from goldpath import compat\n", False)
    assert scan.needs_imports("x = 1\n", True)
    assert scan.needs_imports("from goldpath.\uff43ompat import Agent\n", False)


@pytest.mark.parametrize(
    "text",
    [
        "ExecutionEngine(r, b, c)",
        "x = ExecutionEngine (r)",
        "from goldpath.compat import ExecutionEngine as EE",
        "compat.AgentWebSocketBridge",
        "MyExecutionEngine(r)",
        "_ExecutionEngine(r)",
        "\u00e9ExecutionEngine(r)",
        "ExecutionEngines(r)",
        "x: ExecutionEngine = y",
        "ExecutionEngineX(1); UserExecutionContext(user_id='u')",
        "MyExecutionEngine(r); ExecutionEngine.create()",
        "ExecutionEngine",
        "",
    ],
)
def test_wants_calls_is_the_callee_regex(text: str) -> None:
    scan = Scan.prepare(load_rules(Path(".")))
    assert scan.wants_calls(text) == (scan.callees.search(text) is not None)


def test_wants_calls_examples_include_both_answers() -> None:
    scan = Scan.prepare(load_rules(Path(".")))
    assert scan.wants_calls("MyExecutionEngine(r); ExecutionEngine.create()")
    assert not scan.wants_calls("MyExecutionEngine(r); x: ExecutionEngine")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_class_defs_reach_every_class_statements_reaches(newline: str) -> None:
    source = (
        '"""A class of its own."""\nX = """a\rb\r\nc"""\n\n\nclass A:\n    class B:\n'
        "        def f(self):\n            class C: pass\n            return C\n\n\n"
        "def g():\n    for _ in ():\n        try:\n            pass\n        except E:\n"
        "            @dec\n            class D: pass\n    return 'class'\n\n\n"
        "def h():\n    return 1\n"
    ).replace("\n", newline)
    tree = ast.parse(source)
    slow = [s for s, _ in statements(tree.body) if isinstance(s, ast.ClassDef)]
    fast = list(class_defs(tree.body, class_lines(source)))
    assert [c.name for c in fast] == ["A", "B", "C", "D"]
    assert fast == slow


def test_calls_come_in_ast_walk_order() -> None:
    source = (
        "def f(a=g(), *, b=None, c=h(k())):\n"
        "    return {**d(), 'k': [m(x) for x in n() if p(x)], None: lambda q=r(): s()}\n"
        "x = f'{t(u())}' if v() else w(*y(), **z())\n"
        "match a():\n    case [1] if b(): pass\n"
        "try:\n    pass\nexcept c() as e:\n    pass\n"
    )
    tree = ast.parse(source)
    for stmt, _ in statements(tree.body):
        walked = [
            node
            for name, value in ast.iter_fields(stmt)
            if name not in ("body", "orelse", "finalbody", "handlers", "cases")
            for root in (value if isinstance(value, list) else [value])
            if isinstance(root, ast.AST)
            for node in ast.walk(root)
            if type(node) is ast.Call
        ]
        walked += [
            node
            for holder in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]
            for part in [getattr(holder, "type", None), getattr(holder, "guard", None)]
            if part is not None
            for node in ast.walk(part)
            if type(node) is ast.Call
        ]
        assert list(calls(stmt)) == walked
    assert sum(len(list(calls(s))) for s, _ in statements(tree.body)) == 18
