"""A help desk served by goldpath: two agents, a tool of its own and an MCP server.

Run it from ``examples/``: ``goldpath serve --app helpdesk.app:create`` (docs/your-agents.md).
"""
