"""tools/: schemas and argument checks from signatures, and the built-in calculator and clock."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Optional

import pytest

from goldpath.context import UserExecutionContext
from goldpath.errors import ToolDefinitionError
from goldpath.tools import (
    BUILTIN_TOOLS,
    ArgumentError,
    Tool,
    calculator,
    clock,
    evaluate_arithmetic,
    tool,
)
from goldpath.tools._schema import check_for

pytestmark = pytest.mark.unit

CTX = UserExecutionContext.create("u1", "t1")


async def _everything(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    mode: Literal["fast", "slow"],
    names: list[str],
    scores: dict[str, int],
    anything: Any,
    maybe: Optional[int] = None,  # noqa: UP045 - Optional spelled out on purpose
    either: int | None = None,
    raw: list[Any] | None = None,
    label: str = "x",
) -> str:
    """Do everything.

    Second paragraph, not part of the description.
    """
    return text


EVERYTHING = tool(_everything)


def test_schema_from_the_signature() -> None:
    assert EVERYTHING.parameters == {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "mode": {"enum": ["fast", "slow"]},
            "names": {"type": "array", "items": {"type": "string"}},
            "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
            "anything": {},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "either": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "raw": {"anyOf": [{"type": "array", "items": {}}, {"type": "null"}], "default": None},
            "label": {"type": "string", "default": "x"},
        },
        "required": ["text", "count", "ratio", "flag", "mode", "names", "scores", "anything"],
        "additionalProperties": False,
    }


def test_name_description_and_spec() -> None:
    assert EVERYTHING.name == "_everything"
    assert EVERYTHING.description == "Do everything."
    assert EVERYTHING.spec() == {
        "name": "_everything",
        "description": "Do everything.",
        "parameters": EVERYTHING.parameters,
    }
    assert EVERYTHING.timeout is None
    assert not EVERYTHING.takes_context


async def test_decorator_with_options() -> None:
    @tool(name="renamed", description="Given.", timeout=2.5)
    async def original(x: int) -> int:
        """Docstring."""
        return x

    assert isinstance(original, Tool)
    assert (original.name, original.description, original.timeout) == ("renamed", "Given.", 2.5)
    assert await original.invoke(CTX, {"x": 4}) == 4


def test_undocumented_tool_has_an_empty_description() -> None:
    async def bare(x: int) -> int:
        return x

    assert Tool.from_function(bare).description == ""


def test_other_unions_and_plain_containers() -> None:
    async def f(a: int | str, b: dict[str, Any], c: None) -> None:
        return None

    props = Tool.from_function(f).parameters["properties"]
    assert props["a"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["b"] == {"type": "object", "additionalProperties": {}}
    assert props["c"] == {"type": "null"}


async def test_context_parameter_is_hidden_and_passed() -> None:
    seen: list[UserExecutionContext] = []

    async def whoami(context: UserExecutionContext, greeting: str) -> str:
        seen.append(context)
        return f"{greeting} {context.user_id}"

    whoami_tool = Tool.from_function(whoami)
    assert whoami_tool.takes_context
    assert list(whoami_tool.parameters["properties"]) == ["greeting"]
    assert whoami_tool.parameters["required"] == ["greeting"]
    with pytest.raises(ArgumentError):
        whoami_tool.bind({"greeting": "hi", "context": "someone else"})
    assert await whoami_tool.invoke(CTX, whoami_tool.bind({"greeting": "hi"})) == "hi u1"
    assert seen == [CTX]


def test_sync_function_is_refused() -> None:
    def sync(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="async"):
        tool(sync)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "annotation",
    [bytes, set[int], tuple[int, int], dict[int, str], datetime, object, list[bytes]],
    ids=repr,
)
def test_unsupported_annotation_is_refused(annotation: Any) -> None:
    async def f(x: int) -> None:
        return None

    f.__annotations__["x"] = annotation
    with pytest.raises(ToolDefinitionError, match="cannot be"):
        Tool.from_function(f)


def test_checker_for_an_unsupported_annotation_explains_what_is_allowed() -> None:
    with pytest.raises(ToolDefinitionError, match=r"use str, int, float, bool, Literal"):
        check_for(bytes)


def test_unannotated_parameter_is_refused() -> None:
    async def f(x) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(ToolDefinitionError, match="needs a type annotation"):
        Tool.from_function(f)


def test_var_args_are_refused() -> None:
    async def f(*args: int) -> None:
        return None

    async def g(**kwargs: int) -> None:
        return None

    for function in (f, g):
        with pytest.raises(ToolDefinitionError, match="name every parameter"):
            Tool.from_function(function)


def test_unresolvable_annotation_is_refused() -> None:
    async def f(x: int) -> None:
        return None

    f.__annotations__["x"] = "NoSuchType"
    with pytest.raises(ToolDefinitionError, match="cannot be resolved"):
        Tool.from_function(f)


def _good_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "text": "t",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "mode": "fast",
        "names": ["a", "b"],
        "scores": {"a": 1},
        "anything": object(),
    }
    args.update(overrides)
    return args


def test_bind_accepts_good_arguments_and_normalises_numbers() -> None:
    bound = EVERYTHING.bind(_good_args(count=4.0, ratio=2, maybe=None, either=7, raw=[1, "a"]))
    assert bound["count"] == 4
    assert isinstance(bound["count"], int)
    assert bound["ratio"] == 2.0
    assert isinstance(bound["ratio"], float)
    assert (bound["maybe"], bound["either"], bound["raw"]) == (None, 7, [1, "a"])
    assert "label" not in bound  # the function's own default applies


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"text": 1}, "'text' must be a string"),
        ({"count": True}, "'count' must be an integer, not bool"),
        ({"count": 1.5}, "'count' must be an integer, not float"),
        ({"count": "1"}, "'count' must be an integer, not str"),
        ({"ratio": False}, "'ratio' must be a number, not bool"),
        ({"ratio": "0.5"}, "'ratio' must be a number"),
        ({"flag": 1}, "'flag' must be true or false, not int"),
        ({"mode": "medium"}, "'mode' must be one of ['fast', 'slow']"),
        ({"names": "a"}, "'names' must be an array"),
        ({"names": ["a", 2]}, "'names[1]' must be a string"),
        ({"scores": [1]}, "'scores' must be an object"),
        ({"scores": {"a": "1"}}, "'scores.a' must be an integer"),
        ({"maybe": "1"}, "'maybe' has the wrong type (str)"),
        ({"either": True}, "'either' has the wrong type (bool)"),
        ({"raw": {}}, "'raw' has the wrong type (dict)"),
    ],
)
def test_bind_rejects_wrong_types(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        EVERYTHING.bind(_good_args(**overrides))
    assert message in str(caught.value)


def test_bind_rejects_unknown_and_missing_arguments() -> None:
    with pytest.raises(ArgumentError, match=r"has no argument 'nope', 'zzz'; it takes"):
        EVERYTHING.bind(_good_args(nope=1, zzz=2))
    args = _good_args()
    del args["count"]
    with pytest.raises(ArgumentError, match="needs the argument 'count'"):
        EVERYTHING.bind(args)


@pytest.mark.parametrize("arguments", [None, "17*23", [1], 3])
def test_bind_rejects_arguments_that_are_not_an_object(arguments: object) -> None:
    with pytest.raises(ArgumentError, match="must be a JSON object"):
        calculator.bind(arguments)


def test_bind_for_a_tool_without_arguments() -> None:
    async def ping() -> str:
        return "pong"

    with pytest.raises(ArgumentError, match="takes no arguments"):
        Tool.from_function(ping).bind({"x": 1})
    assert Tool.from_function(ping).bind({}) == {}


def test_none_parameter_checks_null() -> None:
    async def f(c: None) -> None:
        return None

    nothing = Tool.from_function(f)
    assert nothing.bind({"c": None}) == {"c": None}
    with pytest.raises(ArgumentError, match="must be null"):
        nothing.bind({"c": 0})


# --- calculator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("17*23", 391),
        ("17 * 23", 391),
        ("17 × 23", 391),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ** 3 ** 2", 512),
        ("2^10", 1024),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("9 ÷ 3", 3),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("-3 + 5", 2),
        ("+4", 4),
        ("--4", 4),
        ("-(2 + 3)", -5),
        ("0.1 + 0.2", 0.1 + 0.2),
        ("2 ** 300 // 2 ** 299", 2),
        ("  12  ", 12),
    ],
)
def test_calculator_arithmetic(expression: str, value: float) -> None:
    result = evaluate_arithmetic(expression)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("__import__('os')", "only numbers"),
        ("__import__('os').system('true')", "only numbers"),
        ("x + 1", "only numbers"),
        ("(1).real", "only numbers"),
        ("abs(-1)", "only numbers"),
        ("[1, 2]", "only numbers"),
        ("1 if 1 else 2", "only numbers"),
        ("1 < 2", "only numbers"),
        ("not 1", "only numbers"),
        ("'a' * 3", "is not a number"),
        ("True + 1", "is not a number"),
        ("1 +", "is not an arithmetic expression"),
        ("import os", "is not an arithmetic expression"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("2 ** 1001", "exponents above 1000"),
        ("9 ** 9 ** 9", "exponents above 1000"),
        ("2 ** -1001", "exponents above 1000"),
        ("10 ** 100 * 10", "too large"),
        ("2 ** 1000", "too large"),
        ("1e308 * 10", "too large"),
        ("10.0 ** 400", "too large"),
        ("1" + "+1" * 100, "longer than 200"),
    ],
)
def test_calculator_refuses(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate_arithmetic(expression)


def test_calculator_refuses_a_huge_literal() -> None:
    with pytest.raises(ValueError, match="too large"):
        evaluate_arithmetic("9" * 150)


@pytest.mark.parametrize("expression", ["1e999", "-1e999", "1e999 - 1e999", "1e999 * 0"])
def test_calculator_never_answers_a_non_finite_number(expression: str) -> None:
    try:
        value = evaluate_arithmetic(expression)
    except ValueError:
        return
    assert math.isfinite(value), value


def test_calculator_answers_real_numbers_only() -> None:
    try:
        value = evaluate_arithmetic("(-8) ** (1 / 3)")
    except ValueError:
        return
    assert isinstance(value, int | float), value


async def test_calculator_is_a_tool() -> None:
    assert calculator.name == "calculator"
    assert calculator.parameters["required"] == ["expression"]
    assert await calculator.invoke(CTX, calculator.bind({"expression": "17*23"})) == 391


def test_builtin_tools() -> None:
    assert [t.name for t in BUILTIN_TOOLS] == ["calculator", "clock"]
    assert all(t.description for t in BUILTIN_TOOLS)
    json.dumps([t.spec() for t in BUILTIN_TOOLS])


# --- clock ----------------------------------------------------------------------


async def test_clock_defaults_to_utc() -> None:
    assert clock.parameters["properties"]["timezone"] == {"type": "string", "default": "UTC"}
    before = datetime.now(UTC).replace(microsecond=0)
    text = await clock.invoke(CTX, clock.bind({}))
    after = datetime.now(UTC)
    read = datetime.fromisoformat(text)
    assert read.utcoffset() == timedelta(0)
    assert before <= read <= after


@pytest.mark.parametrize("zone", ["utc", "UTC"])
async def test_clock_utc_any_case(zone: str) -> None:
    text = await clock.invoke(CTX, {"timezone": zone})
    assert datetime.fromisoformat(text).utcoffset() == timedelta(0)


async def test_clock_in_a_zone() -> None:
    text = await clock.invoke(CTX, {"timezone": "Asia/Kolkata"})
    assert datetime.fromisoformat(text).utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../etc/passwd", ""])
async def test_clock_unknown_zone(zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        await clock.invoke(CTX, {"timezone": zone})
