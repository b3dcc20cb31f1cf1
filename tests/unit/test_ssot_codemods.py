"""goldpath.ssot codemods: each rewrite against its exact expected text, and what is left alone."""

from __future__ import annotations

import textwrap

import pytest

from goldpath.ssot import Rules, builtin_rules
from goldpath.ssot._codemods import migrate_source

pytestmark = pytest.mark.unit

RULES = builtin_rules()


def migrate(source: str, rules: Rules = RULES) -> tuple[str, list[str]]:
    """Migrate dedented source; also asserts a second run changes nothing."""
    result = migrate_source(textwrap.dedent(source).lstrip("\n"), rules)
    assert migrate_source(result.code, rules).code == result.code
    return result.code, [f"{line}: {message}" for line, message in result.reports]


def expect(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_plain_move_renames_uses_and_string_annotations() -> None:
    code, reports = migrate(
        """
        from goldpath.compat import ExecutionEngine


        def f(a: ExecutionEngine, b: "ExecutionEngine | None") -> "ExecutionEngine":
            return [a, b]
        """
    )
    assert code == expect(
        """
        from goldpath import UserExecutionEngine


        def f(a: UserExecutionEngine, b: "UserExecutionEngine | None") -> "UserExecutionEngine":
            return [a, b]
        """
    )
    assert reports == []


def test_aliased_and_multi_name_parenthesised_import() -> None:
    code, _ = migrate(
        """
        from goldpath.compat import (
            ExecutionEngine as EE,  # the old engine
            UserExecutionContext,
            Agent as Agent,
        )

        x: EE
        """
    )
    assert code == expect(
        """
        from goldpath import (
            UserExecutionEngine as EE,  # the old engine
            UserExecutionContext,
            Agent,
        )

        x: EE
        """
    )


def test_merges_into_existing_canonical_import_without_leftovers() -> None:
    code, _ = migrate(
        """
        from goldpath import Agent, UserExecutionEngine
        from goldpath.compat import ExecutionEngine, ToolDispatcher

        engine: ExecutionEngine
        """
    )
    assert code == expect(
        """
        from goldpath import Agent, UserExecutionEngine, ToolDispatcher

        engine: UserExecutionEngine
        """
    )


def test_unmovable_names_stay_and_moved_ones_split_off() -> None:
    code, reports = migrate(
        """
        from goldpath.compat import AgentWebSocketBridge, UserExecutionContext
        """
    )
    assert code == expect(
        """
        from goldpath.compat import AgentWebSocketBridge
        from goldpath import UserExecutionContext
        """
    )
    assert reports == [
        "1: `goldpath.compat.AgentWebSocketBridge` has no canonical move; replace it by hand"
    ]


def test_try_except_and_type_checking_imports_are_rewritten_in_place() -> None:
    code, _ = migrate(
        """
        from typing import TYPE_CHECKING

        from goldpath import Agent

        try:
            from goldpath.compat import ExecutionEngine
        except ImportError:
            ExecutionEngine = None

        if TYPE_CHECKING:
            from goldpath.compat import UserExecutionContext


        def f(ctx: "UserExecutionContext") -> None: ...
        """
    )
    assert code == expect(
        """
        from typing import TYPE_CHECKING

        from goldpath import Agent

        try:
            from goldpath import UserExecutionEngine as ExecutionEngine
        except ImportError:
            ExecutionEngine = None

        if TYPE_CHECKING:
            from goldpath import UserExecutionContext


        def f(ctx: "UserExecutionContext") -> None: ...
        """
    )


def test_constructor_becomes_awaited_factory_in_async_def() -> None:
    code, reports = migrate(
        """
        from goldpath.compat import ExecutionEngine


        async def main(registry, bridge, ctx):
            engine = ExecutionEngine(registry, bridge, ctx)
            return ExecutionEngine(registry, bridge, ctx).run()
        """
    )
    assert code == expect(
        """
        from goldpath import UserExecutionEngine


        async def main(registry, bridge, ctx):
            engine = await UserExecutionEngine.create_from_legacy(registry, bridge, ctx)
            return (await UserExecutionEngine.create_from_legacy(registry, bridge, ctx)).run()
        """
    )
    assert reports == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("def main(r, b, c):\n    return ExecutionEngine(r, b, c)\n", "in a sync function"),
        ("async def main(r, b, c):\n    return lambda: ExecutionEngine(r, b, c)\n", "in a lambda"),
        (
            "async def main(r, b, cs):\n    return list(ExecutionEngine(r, b, c) for c in cs)\n",
            "in a generator expression",
        ),
        (
            "async def main(r, b, c):\n    class Holder:\n        e = ExecutionEngine(r, b, c)\n",
            "in a class body",
        ),
        ("engine = ExecutionEngine(1, 2, 3)\n", "at module level"),
    ],
)
def test_constructor_that_cannot_await_is_reported_and_untouched(body: str, where: str) -> None:
    source = "from goldpath.compat import ExecutionEngine\n\n\n" + body
    code, reports = migrate(source)
    assert code == source
    assert len(reports) == 1
    assert where in reports[0]
    assert "factory.create_for_user(ctx)" in reports[0]


def test_constructors_in_async_comprehensions_and_attribute_callees_are_awaited() -> None:
    code, reports = migrate(
        """
        import goldpath.compat as legacy
        from goldpath.compat import ExecutionEngine


        async def main(r, b, cs):
            engines = [ExecutionEngine(r, b, c) for c in cs]
            by_id = {c: legacy.ExecutionEngine(r, b, c) for c in cs}
            return {ExecutionEngine(r, b, c) for c in cs}
        """
    )
    assert code == expect(
        """
        import goldpath
        from goldpath import UserExecutionEngine


        async def main(r, b, cs):
            engines = [await UserExecutionEngine.create_from_legacy(r, b, c) for c in cs]
            by_id = {c: await goldpath.UserExecutionEngine.create_from_legacy(r, b, c) for c in cs}
            return {await UserExecutionEngine.create_from_legacy(r, b, c) for c in cs}
        """
    )
    assert reports == []


def test_one_stuck_use_keeps_the_old_import_for_itself_only() -> None:
    code, reports = migrate(
        """
        from goldpath.compat import ExecutionEngine as EE, UserExecutionContext


        async def ok(r, b, c) -> EE:
            ctx = UserExecutionContext(metadata=c)
            return EE(r, b, ctx)


        def not_ok(r, b, c):
            return EE(r, b, c)
        """
    )
    assert code == expect(
        """
        from goldpath.compat import ExecutionEngine as EE
        from goldpath import UserExecutionEngine, UserExecutionContext


        async def ok(r, b, c) -> UserExecutionEngine:
            ctx = UserExecutionContext(agent_context=c)
            return await UserExecutionEngine.create_from_legacy(r, b, ctx)


        def not_ok(r, b, c):
            return EE(r, b, c)
        """
    )
    assert [r.split(":")[0] for r in reports] == ["1", "10"]
    assert "import kept next to `goldpath.UserExecutionEngine`" in reports[0]
    assert "in a sync function" in reports[1]


def test_stuck_module_attribute_use_keeps_the_module_import_next_to_the_new_one() -> None:
    code, reports = migrate(
        """
        import goldpath.compat as legacy


        async def ok(r, b, c):
            bridge = legacy.AgentWebSocketBridge.create_for_user(c)
            return legacy.ExecutionEngine(r, b, c), bridge


        def not_ok(r, b, c):
            return legacy.ExecutionEngine(r, b, c), legacy
        """
    )
    assert code == expect(
        """
        import goldpath.compat as legacy
        import goldpath


        async def ok(r, b, c):
            bridge = legacy.AgentWebSocketBridge.create_for_user(c)
            return await goldpath.UserExecutionEngine.create_from_legacy(r, b, c), bridge


        def not_ok(r, b, c):
            return legacy.ExecutionEngine(r, b, c), legacy
        """
    )
    assert [r.split(":")[0] for r in reports] == ["1", "5", "10", "10"]
    assert "`goldpath.compat` import kept" in reports[0]
    assert "legacy `goldpath.compat.AgentWebSocketBridge.create_for_user(...)`" in reports[1]
    assert "in a sync function" in reports[2]
    assert "used as a module object" in reports[3]


def test_metadata_keyword_renamed_only_on_the_context() -> None:
    code, _ = migrate(
        """
        from goldpath import UserExecutionContext
        import goldpath


        ctx = UserExecutionContext(user_id="u", metadata={"a": 1})
        ctx2 = goldpath.UserExecutionContext(user_id="u", metadata={})
        record(metadata={"a": 1})
        """
    )
    assert code == expect(
        """
        from goldpath import UserExecutionContext
        import goldpath


        ctx = UserExecutionContext(user_id="u", agent_context={"a": 1})
        ctx2 = goldpath.UserExecutionContext(user_id="u", agent_context={})
        record(metadata={"a": 1})
        """
    )


def test_legacy_import_with_metadata_keyword() -> None:
    code, _ = migrate(
        """
        from goldpath.compat import UserExecutionContext as Ctx

        ctx = Ctx(user_id="u", metadata={})
        """
    )
    assert code == expect(
        """
        from goldpath import UserExecutionContext as Ctx

        ctx = Ctx(user_id="u", agent_context={})
        """
    )


def test_shadowed_local_name_is_left_alone() -> None:
    source = expect(
        """
        from goldpath import UserExecutionContext


        def build():
            class UserExecutionContext:
                def __init__(self, **kwargs: object) -> None: ...

            return UserExecutionContext(metadata={})


        def other(UserExecutionContext):
            return UserExecutionContext(metadata={})
        """
    )
    code, reports = migrate(source)
    assert code == source
    assert reports == []


def test_existing_new_keyword_is_reported_not_doubled() -> None:
    source = (
        "from goldpath import UserExecutionContext\n"
        "UserExecutionContext(metadata={}, agent_context={})\n"
    )
    code, reports = migrate(source)
    assert code == source
    assert reports == ["2: `metadata=` not renamed: the call already passes `agent_context=`"]


def test_star_import_mock_patch_string_and_unused_module_import_are_reported() -> None:
    source = expect(
        """
        import goldpath.compat
        from goldpath.compat import *
        from unittest import mock

        patcher = mock.patch("goldpath.compat.ExecutionEngine")
        """
    )
    code, reports = migrate(source)
    assert code == source
    assert [r.split(":")[0] for r in reports] == ["1", "2", "5"]
    assert "import *" in reports[1]
    assert "mock.patch" in reports[2]


def test_team_rules_move_rename_and_factory() -> None:
    rules = Rules().with_config(
        {
            "moves": {"team.old.Engine": "team.core.Engine"},
            "keyword_renames": [{"callee": "team.core.Engine", "old": "cfg", "new": "config"}],
            "factory_rewrites": [
                {"constructor": "team.old.Engine", "factory": "team.core.Engine.build"}
            ],
        },
        "test rules",
        None,
    )
    code, _ = migrate(
        """
        from team.old import Engine


        async def go():
            return Engine(cfg=1)
        """,
        rules,
    )
    assert code == expect(
        """
        from team.core import Engine


        async def go():
            return await Engine.build(config=1)
        """
    )


def test_commented_import_is_rewritten_in_place_not_merged_away() -> None:
    code, _ = migrate(
        """
        from goldpath import Agent
        # the engine, until the factory lands
        from goldpath.compat import ExecutionEngine  # noqa: F401
        """
    )
    assert code == expect(
        """
        from goldpath import Agent
        # the engine, until the factory lands
        from goldpath import UserExecutionEngine  # noqa: F401
        """
    )


def test_imports_sharing_a_line_through_semicolons_stay_on_it() -> None:
    code, reports = migrate(
        """
        import os; from goldpath.compat import ExecutionEngine; other()
        from goldpath.compat import Tool, AgentWebSocketBridge; import goldpath.compat as gc
        x: ExecutionEngine = gc.Agent
        """
    )
    assert code == expect(
        """
        import os; from goldpath import UserExecutionEngine; other()
        from goldpath.compat import AgentWebSocketBridge; from goldpath import Tool; import goldpath
        x: UserExecutionEngine = goldpath.Agent
        """
    )
    assert reports == [
        "2: `goldpath.compat.AgentWebSocketBridge` has no canonical move; replace it by hand"
    ]


def test_module_style_imports_rewrite_their_attribute_uses() -> None:
    code, reports = migrate(
        """
        import goldpath.compat
        from goldpath import compat, Agent
        from goldpath import compat as c2


        async def main(r, b, ctx) -> "Agent":
            e = goldpath.compat.ExecutionEngine(r, b, ctx).run()
            u = compat.UserExecutionContext(user_id="u", metadata={})
            return c2.Agent, e, u
        """
    )
    assert code == expect(
        """
        import goldpath
        from goldpath import Agent


        async def main(r, b, ctx) -> "Agent":
            e = (await goldpath.UserExecutionEngine.create_from_legacy(r, b, ctx)).run()
            u = goldpath.UserExecutionContext(user_id="u", agent_context={})
            return goldpath.Agent, e, u
        """
    )
    assert reports == []


def test_module_import_next_to_an_existing_canonical_import_is_dropped() -> None:
    code, _ = migrate(
        """
        import goldpath
        import goldpath.compat as legacy

        ctx = legacy.UserExecutionContext(user_id="u")
        """
    )
    assert code == expect(
        """
        import goldpath

        ctx = goldpath.UserExecutionContext(user_id="u")
        """
    )


def test_module_use_where_the_canonical_root_means_something_else_is_reported() -> None:
    source = expect(
        """
        import goldpath.compat as legacy


        def f(goldpath):
            return legacy.UserExecutionContext(user_id=goldpath)
        """
    )
    code, reports = migrate(source)
    assert code == source
    assert reports == [
        "5: `legacy.UserExecutionContext` left as is: `goldpath` means something else here; "
        "rewrite it by hand",
    ]


def test_new_name_taken_by_something_else_keeps_the_old_name_as_alias() -> None:
    code, _ = migrate(
        """
        from other import UserExecutionEngine
        from goldpath.compat import ExecutionEngine

        engines = (UserExecutionEngine, ExecutionEngine)
        """
    )
    assert code == expect(
        """
        from other import UserExecutionEngine
        from goldpath import UserExecutionEngine as ExecutionEngine

        engines = (UserExecutionEngine, ExecutionEngine)
        """
    )


def test_new_name_bound_in_an_enclosing_scope_keeps_the_old_name_as_alias() -> None:
    code, _ = migrate(
        """
        class UserExecutionEngine: ...


        def f():
            from goldpath.compat import ExecutionEngine

            return ExecutionEngine, UserExecutionEngine
        """
    )
    assert code == expect(
        """
        class UserExecutionEngine: ...


        def f():
            from goldpath import UserExecutionEngine as ExecutionEngine

            return ExecutionEngine, UserExecutionEngine
        """
    )


def test_string_annotations_through_a_module_alias() -> None:
    code, reports = migrate(
        """
        import goldpath.compat as legacy


        def f(e: "legacy.ExecutionEngine | None", b: "legacy.AgentWebSocketBridge") -> None:
            return None
        """
    )
    assert code == expect(
        """
        import goldpath.compat as legacy
        import goldpath


        def f(e: "goldpath.UserExecutionEngine | None", b: "legacy.AgentWebSocketBridge") -> None:
            return None
        """
    )
    assert [r.split(":")[0] for r in reports] == ["1", "4"]
    assert 'string "legacy.AgentWebSocketBridge" names legacy `legacy` attributes' in reports[1]


def test_stuck_use_whose_new_name_is_taken_keeps_the_whole_name() -> None:
    source = expect(
        """
        from goldpath.compat import ExecutionEngine

        UserExecutionEngine = object


        async def ok(r, b, c):
            return ExecutionEngine(r, b, c)


        def not_ok(r, b, c):
            return ExecutionEngine(r, b, c)
        """
    )
    code, reports = migrate(source)
    assert code == source
    assert [r.split(":")[0] for r in reports] == ["1", "7", "11"]
    assert "`UserExecutionEngine` cannot be imported next to `ExecutionEngine`" in reports[0]
    assert "its import could not move" in reports[1]
    assert "in a sync function" in reports[2]


def test_legacy_path_spelled_out_through_the_package_import() -> None:
    code, reports = migrate(
        """
        import goldpath


        async def main(r, b, c) -> goldpath.compat.Agent:
            return goldpath.compat.ExecutionEngine(r, b, c)
        """
    )
    assert code == expect(
        """
        import goldpath


        async def main(r, b, c) -> goldpath.Agent:
            return await goldpath.UserExecutionEngine.create_from_legacy(r, b, c)
        """
    )
    assert reports == []
