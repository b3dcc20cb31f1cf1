"""errors.py: one tree under GoldpathError, drawn in the docstring, messages that say what to do."""

from __future__ import annotations

import inspect
import re

import pytest

import goldpath.errors as errors_module
from goldpath.errors import (
    GoldpathError,
    InvalidContextError,
    NotFoundError,
    SubscriptionClosedError,
    ToolCallLimitError,
    ToolDefinitionError,
    TooManyRunsError,
    UnknownAgentError,
)

pytestmark = pytest.mark.unit


def _defined() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors_module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors_module.__name__
    }


def _tree() -> dict[str, str | None]:
    """Class name -> parent name, read from the indented tree in the module docstring."""
    doc = errors_module.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        found = re.match(r"^(?P<prefix>[\s│├└─]*)(?P<name>[A-Z]\w*Error)\b", line)
        if not found:
            continue
        depth = len(found.group("prefix"))
        name = found.group("name")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_every_error_subclasses_the_root() -> None:
    classes = _defined()
    assert "GoldpathError" in classes
    for name, cls in classes.items():
        assert issubclass(cls, GoldpathError), name


def test_the_docstring_tree_lists_exactly_the_classes_defined() -> None:
    assert set(_tree()) == set(_defined())


def test_the_docstring_tree_draws_each_class_under_its_real_parent() -> None:
    classes = _defined()
    for name, parent in _tree().items():
        if parent is None:
            assert name == "GoldpathError"
            continue
        assert classes[parent] in classes[name].__mro__[1:], (name, parent)
        goldpath_bases = [b for b in classes[name].__bases__ if issubclass(b, GoldpathError)]
        assert goldpath_bases == [classes[parent]], (name, goldpath_bases)


def test_all_lists_every_class() -> None:
    assert sorted(errors_module.__all__) == sorted(_defined())
    assert errors_module.__all__ == sorted(errors_module.__all__)


@pytest.mark.parametrize(
    ("error", "what", "todo"),
    [
        (InvalidContextError("user_id", "null"), "user_id", "build the context"),
        (TooManyRunsError("u1", 4), "4 runs", "wait for one to finish"),
        (ToolCallLimitError(32), "32 tool calls", "raise the tool-call limit"),
        (UnknownAgentError("nope", ["a", "b"]), "'nope'", "known agents: a, b"),
        (SubscriptionClosedError("too_slow"), "too_slow", "resync"),
    ],
)
def test_messages_say_what_was_wrong_and_what_to_do(
    error: GoldpathError, what: str, todo: str
) -> None:
    assert what in str(error)
    assert todo in str(error)


def test_unknown_agent_without_any_agent_says_none() -> None:
    assert "known agents: none" in str(UnknownAgentError("x", []))


def test_errors_carry_their_facts() -> None:
    assert InvalidContextError("run_id", "").field == "run_id"
    too_many = TooManyRunsError("u1", 4)
    assert (too_many.user_id, too_many.limit) == ("u1", 4)
    assert ToolCallLimitError(3).limit == 3
    assert UnknownAgentError("x", []).name == "x"
    assert SubscriptionClosedError("closed").reason == "closed"


def test_stdlib_bases_let_callers_catch_by_kind() -> None:
    assert issubclass(InvalidContextError, ValueError)
    assert issubclass(UnknownAgentError, LookupError)
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(ToolDefinitionError, TypeError)
