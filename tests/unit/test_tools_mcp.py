"""goldpath.tools.mcp without a server: it stays out of `import goldpath`, and a source
needs somewhere to connect to. The servers themselves: tests/integration/test_tools_mcp.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from goldpath.errors import ConfigurationError
from goldpath.tools import ToolSource
from goldpath.tools.mcp import MCPTools

pytestmark = pytest.mark.unit


def test_import_goldpath_does_not_import_mcp() -> None:
    code = "import sys, goldpath, goldpath.tools; sys.exit('mcp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_source_needs_a_command_or_a_url() -> None:
    with pytest.raises(ConfigurationError) as raised:
        MCPTools("nothing")
    assert str(raised.value) == (
        "MCP server 'nothing' needs a command (MCPTools.stdio) or a URL (MCPTools.http)"
    )


def test_sources_are_tool_sources() -> None:
    source = MCPTools.http("remote", "http://127.0.0.1:9/mcp", per_user=lambda ctx: {})
    assert isinstance(source, ToolSource)
    assert source.per_user
    assert not MCPTools.stdio("local", sys.executable).per_user
