"""The help desk, served: ``goldpath serve --app helpdesk.app:create`` from ``examples/``."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI

from goldpath import BUILTIN_TOOLS
from goldpath.server import create_app
from goldpath.tools.mcp import MCPTools
from helpdesk.agents import Assistant, Orders
from helpdesk.tools import order_status

SHIPPING_SERVER = Path(__file__).with_name("shipping_server.py")


def create() -> FastAPI:
    """The app: settings from GOLDPATH_* as for any goldpath, these agents and tools."""
    shipping = MCPTools.stdio("shipping", sys.executable, [str(SHIPPING_SERVER)])
    return create_app(
        agents=[Assistant, Orders],  # the first is the default agent
        tools=[*BUILTIN_TOOLS, order_status, shipping],
    )
