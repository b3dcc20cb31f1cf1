"""Tools: typed async functions a model may call, and the per-run dispatcher that runs them."""

from goldpath.tools._builtins import BUILTIN_TOOLS, calculator, clock, evaluate_arithmetic
from goldpath.tools._dispatcher import ToolDispatcher, ToolResult
from goldpath.tools._schema import ArgumentError
from goldpath.tools._tool import Tool, tool, tool_table

__all__ = [
    "BUILTIN_TOOLS",
    "ArgumentError",
    "Tool",
    "ToolDispatcher",
    "ToolResult",
    "calculator",
    "clock",
    "evaluate_arithmetic",
    "tool",
    "tool_table",
]
