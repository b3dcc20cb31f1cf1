"""The shipping service's MCP server: goldpath starts it and talks to it over stdio.

It is built with the MCP SDK's own server (``MCPServer``, FastMCP in mcp 1.x); any MCP
server, in any language, would do.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

ARRIVALS = {"A-1001": "Thursday", "A-1002": "next Monday"}

server = MCPServer("shipping")


@server.tool()
def delivery_estimate(order_id: str) -> str:
    """When a shipped or packing order should arrive, by its order id."""
    arrival = ARRIVALS.get(order_id.strip().upper())
    if arrival is None:
        raise ToolError(f"no shipment for order {order_id!r}")
    return arrival


if __name__ == "__main__":
    server.run()
