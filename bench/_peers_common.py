"""The workload every framework of `engine_overhead.py` runs, and what it must produce.

Each framework gets a zero-latency model that asks for one ``calculator`` call with
``EXPRESSION`` and then streams ``ANSWER_TOKENS`` (20 tokens). The peers' models build the
answer from the tool result they find in the conversation, so ``EXPECTED_TEXT`` comes out
only if the framework really ran the tool and fed its result back.

`GATE` holds every run at the start of its second model turn (after the tool ran) while
`engine_overhead.py` measures the memory of runs in flight; it is open by default.
"""

from __future__ import annotations

import ast
import asyncio
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

PROMPT = "What is 17 * 23?"
EXPRESSION = "17 * 23"
ARGUMENTS_JSON = '{"expression": "17 * 23"}'
CALL_ID = "call_calculator_1"
TOOL_RESULT = "391"


def answer_tokens(result: str) -> list[str]:
    """The 20 streamed tokens of the answer, built around the tool's result."""
    return [
        "Using",
        " the",
        " calculator",
        ",",
        " 17",
        " times",
        " 23",
        " is",
        f" {result}",
        ".",
        " That",
        " is",
        " the",
        " exact",
        " product",
        " of",
        " the",
        " two",
        " numbers",
        ".",
    ]


EXPECTED_TEXT = "".join(answer_tokens(TOOL_RESULT))

_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _walk(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_walk(node.left), _walk(node.right))
    raise ValueError("only + - * / on numbers")


def calculate(expression: str) -> int | float:
    """The peers' calculator: parse and walk the expression, as goldpath's built-in does."""
    value = _walk(ast.parse(expression, mode="eval").body)
    return int(value) if float(value).is_integer() else value


@dataclass(slots=True)
class RunResult:
    """What one run gave its consumer: the final text and how many stream events it saw."""

    text: str | None
    events: int
    tool_result: str | None = None


RunOnce = Callable[[int], Awaitable[RunResult]]
"""One complete run (index ``i``), its events consumed through the framework's streaming API."""


class Gate:
    """Holds runs after their tool call until `release`; a no-op while not `close`d."""

    def __init__(self) -> None:
        self._open: asyncio.Event | None = None
        self._all_arrived: asyncio.Event | None = None
        self._expected = 0
        self.arrived = 0

    def close(self, expected: int) -> None:
        """From now on, runs wait at `wait`; `arrivals` completes when ``expected`` are there."""
        self._open = asyncio.Event()
        self._all_arrived = asyncio.Event()
        self._expected = expected
        self.arrived = 0

    async def arrivals(self) -> None:
        assert self._all_arrived is not None
        await self._all_arrived.wait()

    def release(self) -> None:
        assert self._open is not None
        self._open.set()
        self._open = None

    async def wait(self) -> None:
        """Called by every model at the start of its answer turn."""
        if self._open is None:
            return
        self.arrived += 1
        if self.arrived >= self._expected and self._all_arrived is not None:
            self._all_arrived.set()
        await self._open.wait()


GATE = Gate()
