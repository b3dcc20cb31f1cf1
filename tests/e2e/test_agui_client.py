"""The official AG-UI TypeScript client (``@ag-ui/client``'s HttpAgent, run by Node) against a
real goldpath server: the golden path, with the calculator's call and the answer; and a run
that waits for approval, answered with the client's own ``resume``.

The client is pinned by ``tests/agui_client/package-lock.json`` (``npm ci`` there; CI does it).
Its HttpAgent validates every event with AG-UI's own schemas and verifies the run's sequence,
so a wrong shape or order fails the run here.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import FRAME_TIMEOUT, Server, make_settings, new_user, running
from tests.services import services_required

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).resolve().parents[1] / "agui_client"


def _node() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed: install Node.js 18 or newer to run the AG-UI client test"
    elif not (CLIENT / "node_modules" / "@ag-ui" / "client").is_dir():
        missing = f"@ag-ui/client is not installed in {CLIENT}: run 'bash scripts/install'"
    if missing is not None:
        if services_required():
            pytest.fail(f"{missing}, and GOLDPATH_REQUIRE_SERVICES=1 says it must be there")
        pytest.skip(missing)
    assert node is not None
    return node


async def _run_client(server: Server, token: str, *args: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        _node(),
        str(CLIENT / "run.mjs"),
        f"{server.base_url}/ag-ui",
        token,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=CLIENT,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_http_agent_runs_the_golden_path(server: Server, http: httpx.AsyncClient) -> None:
    _node()
    user = await new_user(http, "tsclient")
    seen = await _run_client(server, user.token, "client-thread", "client-run", "What is 17 * 23?")

    assert seen["outcome"] == "success"
    kinds = [e["type"] for e in seen["events"]]
    assert kinds[0] == "RUN_STARTED"
    assert kinds[-1] == "RUN_FINISHED"
    started = seen["events"][0]
    assert (started["threadId"], started["runId"]) == ("client-thread", "client-run")
    assert started["protocolVersion"] == "1.0"
    messages = seen["messages"]
    assert messages[0] == {"id": "user-1", "role": "user", "content": "What is 17 * 23?"}
    roles = [m["role"] for m in messages]
    assert roles == ["user", "reasoning", "assistant", "tool", "assistant"]
    call = messages[2]["toolCalls"][0]
    assert call["function"] == {"name": "calculator", "arguments": '{"expression":"17 * 23"}'}
    assert messages[3] == {
        "id": messages[3]["id"],
        "role": "tool",
        "toolCallId": call["id"],
        "content": "391",
    }
    answer = messages[4]["content"]
    assert "391" in answer
    assert seen["newMessages"] == messages[1:]

    # The same answer is goldpath's: the thread's stored answer is what the client assembled.
    threads = (await http.get("/threads", headers=user.headers)).json()
    detail = await http.get(f"/threads/{threads[0]['thread_id']}", headers=user.headers)
    assert [m["text"] for m in detail.json()["messages"]] == ["What is 17 * 23?", answer]


@pytest.fixture(scope="module")
def approving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server where the calculator's every call waits for a person's approval."""
    settings = make_settings(tmp_path_factory.mktemp("agui-approve"), approval_tools=["calculator"])
    with running(settings) as srv:
        yield srv


@pytest.mark.parametrize("answer", ["approve", "reject"])
async def test_http_agent_answers_an_interrupt_with_resume(approving: Server, answer: str) -> None:
    """The client sees RUN_FINISHED with an interrupt, keeps it as pending, answers it with
    its own buildResumeArray in the next run, and that run goes on to the answer."""
    _node()
    async with httpx.AsyncClient(base_url=approving.base_url, timeout=FRAME_TIMEOUT) as http:
        user = await new_user(http, "tsapprover")
        seen = await _run_client(
            approving, user.token, "client-thread", "client-run", "What is 17 * 23?", answer
        )
    first, second = seen["runs"]
    assert first["outcome"] == "interrupt"
    assert first["events"][-1]["outcome"]["interrupts"][0]["metadata"] == {
        "tool": "calculator",
        "args": {"expression": "17 * 23"},
    }
    assert second["outcome"] == "success"
    assert second["events"][0]["runId"] == "client-run-resume-1"
    assert seen["pending"] == []
    messages = seen["messages"]
    call = next(m for m in messages if m.get("toolCalls"))["toolCalls"][0]
    assert call["function"] == {"name": "calculator", "arguments": '{"expression":"17 * 23"}'}
    results = [m["content"] for m in messages if m["role"] == "tool"]
    assert results == (["391"] if answer == "approve" else [])
    assert messages[-1]["role"] == "assistant"
