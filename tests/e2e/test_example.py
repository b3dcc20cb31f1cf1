"""examples/helpdesk, served by ``goldpath serve --app`` in a process of its own, used as a
person would: two agents, a tool of the project's own and an MCP server's tool."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import WsClient

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example served on a free port until the module is done; yields its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env["GOLDPATH_DATA_DIR"] = str(tmp_path_factory.mktemp("helpdesk"))
    env["GOLDPATH_PASSWORD_HASH_MEMORY_KIB"] = "1024"
    env["GOLDPATH_PASSWORD_HASH_TIME_COST"] = "1"
    command = [
        sys.executable,
        "-c",
        "from goldpath.cli import main; main()",
        "serve",
        "--port",
        "0",
        "--app",
        "helpdesk.app:create",
    ]
    with subprocess.Popen(
        command, cwd=EXAMPLES, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        try:
            url = None
            seen = []
            for line in process.stdout:  # bounded: the server prints this line or exits
                seen.append(line)
                found = re.search(r"goldpath is running at (http://\S+)", line)
                if found:
                    url = found.group(1)
                    break
            assert url is not None, "the example did not start:\n" + "".join(seen)
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)


@pytest.fixture
async def signed_in(helpdesk: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with httpx.AsyncClient(base_url=helpdesk, timeout=15) as http:
        account = {"username": f"ada_{os.urandom(4).hex()}", "password": "correct horse battery"}
        assert (await http.post("/auth/register", json=account)).status_code == 201
        token = (await http.post("/auth/login", json=account)).json()["access_token"]
        yield http, {"Authorization": f"Bearer {token}"}


async def chat(url: str, headers: dict[str, str], message: str, **fields: Any) -> list[Any]:
    """One chat over /ws: the run's event frames, agent_started to agent_completed."""
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with connect(ws_url, additional_headers=headers) as connection:
        client = WsClient(connection)
        assert (await client.recv())["type"] == "ready"
        accepted = await client.chat(message, **fields)
        frames = await client.run_to_end(accepted["run_id"])
    return [f for f in frames if f.get("run_id") == accepted["run_id"] and "offset" in f]


async def test_the_example_lists_its_two_agents(
    signed_in: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, headers = signed_in
    agents = (await http.get("/agents", headers=headers)).json()
    assert [agent["name"] for agent in agents] == ["assistant", "orders"]
    assert agents[1]["description"] == (
        "Tracks an order: its status from the shop, its delivery date from shipping."
    )


async def test_the_orders_agent_uses_its_tool_and_the_mcp_servers(
    helpdesk: str, signed_in: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    _, headers = signed_in
    frames = await chat(helpdesk, headers, "Where is my order a-1001?", agent="orders")
    steps = [(f["type"], f["data"].get("tool")) for f in frames if f["type"] != "message_delta"]
    assert steps == [
        ("agent_started", None),
        ("agent_thinking", None),
        ("tool_executing", "order_status"),
        ("tool_completed", "order_status"),
        ("tool_executing", "delivery_estimate"),
        ("tool_completed", "delivery_estimate"),
        ("agent_completed", None),
    ]
    done = {f["data"]["tool"]: f["data"] for f in frames if f["type"] == "tool_completed"}
    assert done["order_status"]["result"] == {
        "order_id": "A-1001",
        "item": "mechanical keyboard",
        "status": "shipped",
    }
    assert done["delivery_estimate"]["result"] == "Thursday"
    answer = "Your mechanical keyboard (A-1001) is shipped. It should arrive Thursday."
    assert frames[-1]["data"]["result"] == {"text": answer}
    assert "".join(f["data"]["delta"] for f in frames if f["type"] == "message_delta") == (
        answer + " "
    )


async def test_a_tool_error_reaches_the_agent_as_a_result(
    helpdesk: str, signed_in: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    _, headers = signed_in
    frames = await chat(helpdesk, headers, "And order Z-9999?", agent="orders")
    failed = next(f["data"] for f in frames if f["type"] == "tool_completed")
    assert failed["ok"] is False
    assert failed["error"] == "LookupError: there is no order 'Z-9999'; order ids look like A-1001"
    assert frames[-1]["data"]["status"] == "ok"


async def test_the_default_agent_answers_with_the_model_and_the_tools(
    helpdesk: str, signed_in: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    _, headers = signed_in
    frames = await chat(helpdesk, headers, "What is 17 * 23?")
    assert {f["agent"] for f in frames} == {"assistant"}
    assert "391" in json.dumps(frames[-1]["data"]["result"])


def test_goldpath_chat_runs_the_agent_it_names(helpdesk: str) -> None:
    command = [sys.executable, "-c", "from goldpath.cli import main; main()", "chat"]
    done = subprocess.run(
        [
            *command,
            "--url",
            helpdesk,
            "--username",
            f"grace_{os.urandom(4).hex()}",
            "--password",
            "correct horse battery",
            "--register",
            "--agent",
            "orders",
            "-m",
            "Where is order A-1002?",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")},
    )
    assert done.returncode == 0, done.stderr
    assert "delivery_estimate" in done.stdout
    assert "Your desk lamp (A-1002) is packing. It should arrive next Monday." in done.stdout
