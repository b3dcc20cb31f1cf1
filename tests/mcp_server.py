"""A real MCP server for tests, made with the SDK's own server (``MCPServer``, once FastMCP).

``python tests/mcp_server.py`` serves it over stdio; `serving_http` serves it over
streamable HTTP on 127.0.0.1 (a free port) from a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

SCRIPT = Path(__file__)


def build() -> MCPServer:
    server = MCPServer("goldpath-test")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def whoami(ctx: Context) -> str:
        """Who the caller is: the Authorization header over HTTP, MCP_USER over stdio."""
        request = ctx.request_context.request
        headers = getattr(request, "headers", None)
        if headers is not None:
            return str(headers.get("authorization", "nobody"))
        return os.environ.get("MCP_USER", "nobody")

    @server.tool()
    def fail() -> str:
        """Always fails, as a tool may."""
        raise ToolError("the disk is full")

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answers after ``seconds``."""
        await asyncio.sleep(seconds)
        return "done"

    return server


@contextmanager
def serving_http() -> Iterator[str]:
    """Serve the test server over streamable HTTP until the block ends; yields its URL."""
    app = build().streamable_http_app()
    # Imported here: the stdio tests run this file as a script, where `tests` is no package.
    from tests.uvicorn_thread import serving_in_thread

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    with serving_in_thread(config, "mcp-test-server") as port:
        yield f"http://127.0.0.1:{port}/mcp"


if __name__ == "__main__":
    build().run()
