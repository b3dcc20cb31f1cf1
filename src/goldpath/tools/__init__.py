"""Tools: typed async functions a model may call, and the per-run dispatcher that runs them.

The tools of MCP servers live in `goldpath.tools.mcp`, which needs the ``mcp`` extra and is
imported only when used.
"""

from goldpath.tools._approval import (
    ApprovalAnswer,
    ApprovalNeeded,
    ApprovalPolicy,
    ReplayError,
    RunApprovals,
    requiring_approval,
)
from goldpath.tools._builtins import BUILTIN_TOOLS, calculator, clock, evaluate_arithmetic
from goldpath.tools._dispatcher import ToolDispatcher
from goldpath.tools._notes import SAMPLE_NOTES, NoteBook
from goldpath.tools._result import ToolResult
from goldpath.tools._schema import ArgumentError
from goldpath.tools._source import ToolSource, open_sources
from goldpath.tools._tool import Tool, tool, tool_table

__all__ = [
    "BUILTIN_TOOLS",
    "SAMPLE_NOTES",
    "ApprovalAnswer",
    "ApprovalNeeded",
    "ApprovalPolicy",
    "ArgumentError",
    "NoteBook",
    "ReplayError",
    "RunApprovals",
    "Tool",
    "ToolDispatcher",
    "ToolResult",
    "ToolSource",
    "calculator",
    "clock",
    "evaluate_arithmetic",
    "open_sources",
    "requiring_approval",
    "tool",
    "tool_table",
]
