"""goldpath.ssot.check_tree: each rule on a small tree, with its lines; score; config."""

from __future__ import annotations

import gc
import textwrap
from pathlib import Path

import pytest

from goldpath.ssot import CheckReport, ConfigError, Finding, check_tree, load_rules
from goldpath.ssot._findings import score

pytestmark = pytest.mark.unit


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return path


def found(report: CheckReport, rule: str) -> list[tuple[str, int]]:
    return [(Path(f.path).name, f.line) for f in report.findings if f.rule == rule]


def test_clean_tree_scores_exactly_100(tmp_path: Path) -> None:
    write(tmp_path, "app/main.py", "from goldpath import UserExecutionContext\nX = (1, 2)\n")
    report = check_tree(tmp_path)
    assert report.findings == ()
    assert report.score == 100.0
    assert report.files_scanned == 1


def test_deprecated_imports_split_into_production_and_tests(tmp_path: Path) -> None:
    legacy = """
    import os
    from goldpath.compat import ExecutionEngine as EE, UserExecutionContext
    import goldpath.compat
    """
    write(tmp_path, "app/run.py", legacy)
    write(tmp_path, "tests/test_run.py", legacy)
    write(tmp_path, "app/conftest.py", legacy)
    report = check_tree(tmp_path)
    rows = [(Path(f.path).name, f.line, f.in_tests) for f in report.findings]
    assert sorted(rows) == [
        ("conftest.py", 2, True),
        ("conftest.py", 3, True),
        ("run.py", 2, False),
        ("run.py", 3, False),
        ("test_run.py", 2, True),
        ("test_run.py", 3, True),
    ]
    first = next(f for f in report.findings if f.path.endswith("run.py") and f.line == 2)
    assert first.replacement == (
        "from goldpath import UserExecutionEngine as EE, UserExecutionContext"
    )


def test_star_import_from_compat_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "from goldpath.compat import *\n")
    [finding] = check_tree(tmp_path).findings
    assert finding.rule == "deprecated_import"
    assert "star import" in finding.message


def test_legacy_calls_and_keyword(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.py",
        """
        from goldpath import UserExecutionContext
        from goldpath.compat import AgentWebSocketBridge

        bridge = AgentWebSocketBridge.create_for_user(ctx)
        quiet = AgentWebSocketBridge.create_anonymous()
        ctx = UserExecutionContext(user_id=uid, metadata={"a": 1})
        other(metadata={"a": 1})
        """,
    )
    report = check_tree(tmp_path)
    assert found(report, "legacy_call") == [("a.py", 4), ("a.py", 5)]
    assert found(report, "legacy_keyword") == [("a.py", 6)]
    keyword = next(f for f in report.findings if f.rule == "legacy_keyword")
    assert keyword.replacement == "agent_context="


def test_engines_outside_the_factory(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app/a.py",
        """
        from goldpath import UserExecutionEngine
        from goldpath.compat import ExecutionEngine

        async def main(r, b, ctx):
            one = UserExecutionEngine(ctx)
            two = ExecutionEngine(r, b, ctx)

        class ExecutionEngineFactory:
            def create_for_user(self, ctx):
                return UserExecutionEngine(ctx)
        """,
    )
    write(
        tmp_path,
        "src/goldpath/factory.py",
        "from goldpath.engine import UserExecutionEngine\nE = UserExecutionEngine(1)\n",
    )
    report = check_tree(tmp_path)
    assert found(report, "engine_outside_factory") == [("a.py", 5), ("a.py", 6)]
    legacy = [f for f in report.findings if f.rule == "engine_outside_factory"][1]
    assert legacy.replacement == "await UserExecutionEngine.create_from_legacy(...)"


def test_duplicate_roles_by_name_and_shape(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app/a.py",
        """
        from goldpath import Emitter

        class MyExecutionEngine:
            pass

        class TeamEngineFactory:
            pass

        class SlackNotifier:
            pass

        class Runner:
            def __init__(self, user_id, bridge):
                self.user_id = user_id
                self.bridge = bridge

            async def run(self, message):
                return message

        class Pusher:
            def __init__(self, context):
                self.context = context

            async def send_event(self, event):
                return event

        class Builder:
            def create_for_user(self, ctx):
                return ctx

        class NullEmitter(Emitter):
            async def emit(self, event, context=None):
                return None

        class Plain:
            async def run(self):
                return None
        """,
    )
    report = check_tree(tmp_path)
    rows = [(f.line, f.replacement) for f in report.findings if f.rule == "duplicate_role"]
    assert rows == [
        (3, "goldpath.UserExecutionEngine"),
        (6, "goldpath.ExecutionEngineFactory"),
        (9, "goldpath.Emitter"),
        (12, "goldpath.UserExecutionEngine"),
        (20, "goldpath.Emitter"),
        (27, "goldpath.ExecutionEngineFactory"),
    ]
    assert "by its shape" in report.findings[3].message


def test_module_state_only_in_agent_and_tool_modules(tmp_path: Path) -> None:
    state = """
    import functools
    from collections import defaultdict

    __all__ = ["x"]
    CACHE = {}
    SEEN: list[str] = []
    COUNTS = defaultdict(int)
    NAMES = ("a", "b")
    KINDS = frozenset({"a"})

    @functools.lru_cache(maxsize=None)
    def lookup(key):
        return key
    """
    write(tmp_path, "app/agents/helper.py", state)
    write(tmp_path, "app/plain.py", state)
    write(
        tmp_path,
        "app/custom.py",
        """
        from goldpath import Agent, tool

        REGISTRY = {}

        class Echo(Agent):
            pass
        """,
    )
    write(
        tmp_path,
        "app/funcs.py",
        "from goldpath import tool\nS = set()\n@tool\nasync def f(): ...\n",
    )
    report = check_tree(tmp_path)
    assert sorted(found(report, "module_state")) == [
        ("custom.py", 3),
        ("funcs.py", 2),
        ("helper.py", 5),
        ("helper.py", 6),
        ("helper.py", 7),
        ("helper.py", 12),
    ]


@pytest.mark.parametrize(
    ("expr", "flagged"),
    [
        ('(await request.json())["user_id"]', True),
        ('payload["user_id"]', True),
        ('data.get("user_id")', True),
        ("body.user_id", True),
        ('frame["user"]', True),
        ('request.query_params["uid"]', True),
        ("request.user.id", False),
        ("request.state.user_id", False),
        ("identity.user_id", False),
    ],
)
def test_context_from_client_supplied_user_id(tmp_path: Path, expr: str, flagged: bool) -> None:
    write(
        tmp_path,
        "server.py",
        f"""
        from goldpath import UserExecutionContext

        async def handler(request, payload, data, body, frame, identity):
            return UserExecutionContext(user_id={expr}, thread_id="t")
        """,
    )
    report = check_tree(tmp_path)
    assert found(report, "client_user_id") == ([("server.py", 4)] if flagged else [])


def test_unparsable_file_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "ok.py", "x = 1\n")
    write(tmp_path, "broken.py", "def f(:\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "declared.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nfrom goldpath.compat import Agent\nx = '\xe9'\n"
    )
    report = check_tree(tmp_path)
    assert sorted(found(report, "parse_error")) == [("broken.py", 1), ("latin.py", 1)]
    assert found(report, "deprecated_import") == [("declared.py", 2)]
    assert report.files_scanned == 4


def test_score_formula() -> None:
    one = Finding("module_state", "a.py", 1, 0, "m", "r", in_tests=False)
    in_test = Finding("module_state", "t.py", 1, 0, "m", "r", in_tests=True)
    assert score([], 0) == 100.0
    assert score([one], 10) == 80.0
    assert score([in_test], 10) == 90.0
    assert score([one], 100_000) == 99.9
    assert score([one] * 100, 1) == 0.0


def test_pyproject_section_excludes_and_extends(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
        [tool.goldpath.ssot]
        exclude = ["pkg/legacy.py"]
        deprecated_modules = ["team.old"]

        [[tool.goldpath.ssot.roles]]
        name = "cache"
        canonical = "team.Cache"
        class_patterns = ["*Cache"]
        """,
    )
    write(tmp_path, "pkg/legacy.py", "from goldpath.compat import ExecutionEngine\n")
    write(tmp_path, "pkg/use.py", "from team.old import thing\n\nclass LocalCache:\n    pass\n")
    report = check_tree(tmp_path / "pkg")
    assert [(f.rule, f.line) for f in report.findings] == [
        ("deprecated_import", 1),
        ("duplicate_role", 3),
    ]


def test_explicit_config_file_and_bad_config(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.toml", 'exclude = ["*.py"]\n')
    write(tmp_path, "src/a.py", "from goldpath.compat import Agent\n")
    assert check_tree(tmp_path / "src", config=rules).files_scanned == 0
    bad = write(tmp_path, "bad.toml", "moves = 3\n")
    with pytest.raises(ConfigError, match="'moves' must be a dict"):
        load_rules(tmp_path, bad)
    unknown = write(tmp_path, "unknown.toml", "colour = 'red'\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_rules(tmp_path, unknown)


def test_process_pool_gives_the_serial_result(tmp_path: Path) -> None:
    for i in range(12):
        write(tmp_path, f"m{i}.py", "from goldpath.compat import Agent\nclass XEmitter: ...\n")
    serial = check_tree(tmp_path, jobs=1)
    pooled = check_tree(tmp_path, jobs=2)
    assert pooled == serial
    assert len(serial.findings) == 24


def test_calls_found_in_nested_statements_and_through_aliases(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.py",
        """
        from goldpath import UserExecutionEngine as Engine

        async def main(ctx, flag):
            try:
                pass
            except ValueError:
                Engine(ctx)
            with open("x") as f:
                match flag:
                    case 1 if Engine(ctx):
                        pass
            handler = lambda: Engine(ctx)
        """,
    )
    assert found(check_tree(tmp_path), "engine_outside_factory") == [
        ("a.py", 7),
        ("a.py", 10),
        ("a.py", 12),
    ]


def test_public_api_is_pinned() -> None:
    import goldpath.ssot

    assert goldpath.ssot.__all__ == sorted(goldpath.ssot.__all__)
    assert set(goldpath.ssot.__all__) >= {
        "CheckReport",
        "Finding",
        "MigrationReport",
        "Rules",
        "check_tree",
        "load_rules",
        "migrate_tree",
    }


def test_directories_above_path_do_not_classify_files(tmp_path: Path) -> None:
    project = tmp_path / "tests" / "tools" / "project"
    write(project, "app/state.py", "CACHE = {}\nfrom goldpath.compat import Agent\n")
    [finding] = check_tree(project).findings
    assert finding.rule == "deprecated_import"
    assert finding.in_tests is False
    write(project, "tests/test_state.py", "from goldpath.compat import Agent\n")
    assert [f.in_tests for f in check_tree(project / "tests").findings] == [True]


def test_the_collector_is_left_as_it_was_found(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "from goldpath.compat import Agent\n")
    assert gc.isenabled()
    check_tree(tmp_path, jobs=1)
    assert gc.isenabled()
    gc.disable()
    try:
        check_tree(tmp_path, jobs=1)
        assert not gc.isenabled()
    finally:
        gc.enable()
