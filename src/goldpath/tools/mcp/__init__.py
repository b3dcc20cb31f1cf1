"""The tools of MCP servers, as goldpath tools, through the official ``mcp`` SDK.

Needs the ``mcp`` extra (``pip install 'goldpath[mcp]'``); ``import goldpath`` does not
import it. See docs/your-agents.md::

    from goldpath.tools.mcp import MCPTools

    files = MCPTools.stdio("files", "python", ["files_server.py"])
    app = create_app(tools=[*BUILTIN_TOOLS, files])
"""

from goldpath.tools.mcp._tools import Credentials, MCPTools

__all__ = ["Credentials", "MCPTools"]
