"""Approvals through the server: a run waits (status ``waiting``) for a person, who answers
with the ``approve`` frame or the HTTP route; the answered call runs exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goldpath import tool
from goldpath.models import ScriptedModel, TextDelta, ToolCall
from goldpath.server import create_app
from tests.e2e.conftest import Server, User, WsClient, make_settings, new_user, open_ws, running

pytestmark = pytest.mark.e2e

deleted: list[str] = []


@tool(requires_approval=True)
async def delete_note(title: str) -> str:
    """Delete the note with this title."""
    deleted.append(title)
    return f"deleted {title!r}"


MODEL = ScriptedModel(
    [
        [ToolCall("call_del", "delete_note", {"title": "groceries"})],
        [TextDelta("All done.")],
    ]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(tmp_path_factory.mktemp("approvals"))
    with running(settings, create_app(settings, tools=[delete_note], model=MODEL)) as srv:
        yield srv


async def _waiting(server: Server, http: httpx.AsyncClient) -> tuple[User, WsClient, str]:
    user = await new_user(http)
    ws, _ = await open_ws(server, user)
    accepted = await ws.chat("tidy my notes")
    await ws.until(lambda f: f.get("type") == "approval_requested")
    run = await http.get(f"/runs/{accepted['run_id']}", headers=user.headers)
    assert run.json()["status"] == "waiting"
    return user, ws, accepted["run_id"]


async def test_an_approve_frame_continues_the_run_and_the_call_runs_once(
    server: Server, http: httpx.AsyncClient
) -> None:
    deleted.clear()
    user, ws, run_id = await _waiting(server, http)
    answer = {"type": "approve", "run_id": run_id, "call_id": "call_del", "decision": "approve"}
    await ws.send(answer)
    await ws.send({**answer, "client_msg_id": "again"})  # the same answer twice: a conflict
    frames = await ws.until(lambda f: f.get("type") == "agent_completed")
    kinds = [f["type"] for f in frames]
    assert kinds.count("error") == 1
    refused = next(f for f in frames if f["type"] == "error")
    assert (refused["code"], refused["ref"]) == ("conflict", "again")
    events = [k for k in kinds if k != "error"]
    assert events == [
        "approval_resolved",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "agent_completed",
    ]
    assert frames[-1]["data"]["status"] == "ok"
    assert deleted == ["groceries"]
    stored = await http.get(f"/runs/{run_id}/events", headers=user.headers)
    stored_kinds = [e["type"] for e in stored.json()]
    assert stored_kinds[0] == "agent_started"
    assert stored_kinds.count("approval_requested") == 1
    assert stored_kinds[-1] == "agent_completed"
    assert [e["offset"] for e in stored.json()] == sorted(e["offset"] for e in stored.json())
    await ws.connection.close()


async def test_the_http_route_rejects_and_the_tool_never_runs(
    server: Server, http: httpx.AsyncClient
) -> None:
    deleted.clear()
    user, ws, run_id = await _waiting(server, http)
    url = f"/runs/{run_id}/approvals/call_del"
    body = {"decision": "reject", "reason": "keep it"}
    answered = await http.post(url, json=body, headers=user.headers)
    assert answered.status_code == 202, answered.text
    frames = await ws.until(lambda f: f.get("type") == "agent_completed")
    assert frames[0]["data"] == {"call_id": "call_del", "decision": "reject", "by": "user"}
    assert "tool_executing" not in [f["type"] for f in frames]
    again = await http.post(url, json=body, headers=user.headers)
    assert again.status_code == 409
    assert deleted == []
    await ws.connection.close()


async def test_answers_that_cannot_be_taken_are_refused_clearly(
    server: Server, http: httpx.AsyncClient
) -> None:
    user, ws, run_id = await _waiting(server, http)
    other = await new_user(http, "other")
    url = f"/runs/{run_id}/approvals/call_del"
    assert (
        await http.post(url, json={"decision": "approve"}, headers=other.headers)
    ).status_code == 404
    wrong_call = f"/runs/{run_id}/approvals/call_nope"
    assert (
        await http.post(wrong_call, json={"decision": "approve"}, headers=user.headers)
    ).status_code == 409
    bad = await http.post(url, json={"decision": "maybe"}, headers=user.headers)
    assert bad.status_code == 422
    bad_args = await http.post(url, json={"decision": "approve", "args": [1]}, headers=user.headers)
    assert bad_args.status_code == 422
    # still waiting after all that; a cancel ends it at once
    cancelled = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
    assert cancelled.status_code == 202
    frames = await ws.until(lambda f: f.get("type") == "agent_completed")
    assert frames[-1]["data"]["status"] == "cancelled"
    assert "tool_executing" not in [f["type"] for f in frames]
    run = await http.get(f"/runs/{run_id}", headers=user.headers)
    assert run.json()["status"] == "cancelled"
    await ws.connection.close()


async def test_an_unanswered_call_times_out(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, approval_timeout=0.5, lease_seconds=0.5)
    app = create_app(settings, tools=[delete_note], model=MODEL)
    with running(settings, app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            _, ws, _ = await _waiting(srv, http)
            frames = await ws.until(lambda f: f.get("type") == "agent_completed")
            assert frames[0]["type"] == "approval_resolved"
            assert frames[0]["data"]["by"] == "timeout"
            assert frames[-1]["data"]["status"] == "timeout"
            await ws.connection.close()
