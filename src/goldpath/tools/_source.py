"""Tool sources: tools known only once something runs (an MCP server's), opened at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Protocol, runtime_checkable

from goldpath.tools._tool import Tool

__all__ = ["ToolSource", "open_sources"]


@runtime_checkable
class ToolSource(Protocol):
    """Gives its tools when opened (the server does so at start-up) and frees what it holds
    when closed (at shutdown). `goldpath.tools.mcp.MCPTools` is one."""

    @property
    def name(self) -> str: ...

    async def open(self) -> Sequence[Tool]: ...

    async def close(self) -> None: ...


async def open_sources(sources: Iterable[ToolSource], stack: AsyncExitStack) -> list[Tool]:
    """Open each source, in order, and give all their tools; each is closed with ``stack``."""
    tools: list[Tool] = []
    for source in sources:
        stack.push_async_callback(source.close)
        tools.extend(await source.open())
    return tools
