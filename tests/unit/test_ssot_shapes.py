"""goldpath.ssot._shapes: a role's class patterns, compiled once, match as `fnmatchcase` does."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase

import pytest

from goldpath.ssot import Role, Rules
from goldpath.ssot._shapes import duplicate_role

pytestmark = pytest.mark.unit

ROLES = (
    Role("engine", "app.TheEngine", ("*Engine", "Engine?x", "[A-C]*Runner"), ""),
    Role("emitter", "app.TheEmitter", ("*.Emit+", "[!a-z]*Bus", "*[*]"), ""),
    Role("none", "app.TheNothing", (), ""),
)
NAMES = [
    "MyEngine", "Engine", "EngineX", "Engine1x", "Enginex", "BRunner", "DRunner", "ARunner2",
    "a.Emit+", "aXEmit+", "EventBus", "eventBus", "Star*", "Nothing", "MyEngineFactory",
    "TheEngineX",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_class_patterns_match_as_fnmatchcase(name: str) -> None:
    node = ast.ClassDef(name=name, bases=[], keywords=[], body=[], decorator_list=[])
    expected = next(
        (
            (role, "name")
            for role in ROLES
            if any(fnmatchcase(name, pattern) for pattern in role.class_patterns)
        ),
        None,
    )
    assert duplicate_role(node, Rules(roles=ROLES)) == expected


def test_the_examples_match_some_names_and_not_others() -> None:
    matched = [
        name
        for name in NAMES
        if any(fnmatchcase(name, p) for role in ROLES for p in role.class_patterns)
    ]
    assert 0 < len(matched) < len(NAMES) - 1
