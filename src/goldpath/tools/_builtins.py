"""The tools every goldpath has: `calculator` and `clock`."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from goldpath.tools._tool import Tool, tool

__all__ = ["BUILTIN_TOOLS", "calculator", "clock", "evaluate_arithmetic"]

_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = MappingProxyType(
    {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv,
        ast.Mod: operator.mod,
        ast.Pow: operator.pow,
    }
)
_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Any]] = MappingProxyType(
    {
        ast.UAdd: operator.pos,
        ast.USub: operator.neg,
    }
)
_MAX_EXPRESSION = 200
_MAX_EXPONENT = 1000
_MAX_MAGNITUDE = 10**100


def _checked(value: object) -> int | float:
    """Only finite real numbers within the magnitude limit are answers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is too large")
    if abs(value) > _MAX_MAGNITUDE:
        raise ValueError("the result is too large")
    return value


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return _checked(node.value)
        raise ValueError(f"{node.value!r} is not a number")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponents above {_MAX_EXPONENT} are not allowed")
        try:
            return _checked(_BINARY[type(node.op)](left, right))
        except OverflowError:
            raise ValueError("the result is too large") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand)))
    raise ValueError("only numbers, + - * / // % ** and parentheses are allowed")


def evaluate_arithmetic(expression: str) -> int | float:
    """The value of an arithmetic expression, parsed and walked, never evaluated as code."""
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("^", "**")
    if not text:
        raise ValueError("the expression is empty")
    if len(text) > _MAX_EXPRESSION:
        raise ValueError(f"the expression is longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"{expression!r} is not an arithmetic expression") from None
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@tool
async def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression such as "17 * 23" or "(2 + 3) ** 2".

    Supports + - * / // % ** and parentheses on integers and decimals.
    """
    return evaluate_arithmetic(expression)


@tool
async def clock(timezone: str = "UTC") -> str:
    """The current date and time in an IANA time zone such as "UTC" or "Europe/Paris"."""
    try:
        zone = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r}; use an IANA name such as 'UTC'"
        ) from None
    return datetime.now(zone).isoformat(timespec="seconds")


BUILTIN_TOOLS: tuple[Tool, ...] = (calculator, clock)
