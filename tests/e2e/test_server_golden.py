"""The golden path over real sockets: register, log in, chat, watch the run, read it back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, assert_gapless, events_of, new_user, open_ws

pytestmark = pytest.mark.e2e


async def test_golden_path(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "golden")
    ws, ready = await open_ws(server, user)
    async with ws.connection:
        assert ready["user_id"] == user.user_id
        assert ready["stream"]["offset"] == 0
        assert isinstance(ready["connection_id"], str)
        accepted = await ws.chat("What is 17 * 23?", client_msg_id="m1")
        assert accepted["client_msg_id"] == "m1"
        run_id, thread_id = accepted["run_id"], accepted["thread_id"]
        frames = await ws.run_to_end(run_id)

    assert_gapless(frames, 0)
    types = [f["type"] for f in frames]
    assert types[:4] == ["agent_started", "agent_thinking", "tool_executing", "tool_completed"]
    assert types[-1] == "agent_completed"
    assert set(types[4:-1]) == {"message_delta"}
    for frame in frames:
        assert frame["run_id"] == run_id
        assert frame["thread_id"] == thread_id
        assert frame["agent"] == "supervisor"
        assert frame["ts"].endswith("Z")
    assert frames[0]["data"] == {"message": "What is 17 * 23?"}
    executing, completed = frames[2]["data"], frames[3]["data"]
    assert executing["tool"] == "calculator"
    assert completed["call_id"] == executing["call_id"]
    assert completed["ok"] is True
    assert completed["result"] == 391
    end = frames[-1]["data"]
    assert end["status"] == "ok"
    assert "391" in end["result"]["text"]
    assert "error" not in end
    deltas = "".join(f["data"]["delta"] for f in frames if f["type"] == "message_delta")
    assert deltas == end["result"]["text"]

    detail = await http.get(f"/threads/{thread_id}", headers=user.headers)
    assert detail.status_code == 200
    body: dict[str, Any] = detail.json()
    assert body["thread_id"] == thread_id
    assert body["title"] == "What is 17 * 23?"
    assert [(m["role"], m["text"]) for m in body["messages"]] == [
        ("user", "What is 17 * 23?"),
        ("assistant", end["result"]["text"]),
    ]
    assert all(m["run_id"] == run_id for m in body["messages"])

    run = await http.get(f"/runs/{run_id}", headers=user.headers)
    assert run.status_code == 200
    assert run.json()["status"] == "ok"
    assert run.json()["result"] == {"text": end["result"]["text"]}
    assert "error" not in run.json()
    assert run.json()["finished_at"] is not None

    threads = await http.get("/threads", headers=user.headers)
    assert [t["thread_id"] for t in threads.json()] == [thread_id]


async def test_fifty_users_at_once_see_only_their_own_runs(
    server: Server, http: httpx.AsyncClient
) -> None:
    users = await asyncio.gather(*(new_user(http, f"crowd{i}") for i in range(50)))

    async def one(index: int) -> tuple[str, list[dict[str, Any]]]:
        user = users[index]
        ws, ready = await open_ws(server, user)
        async with ws.connection:
            accepted = await ws.chat(f"What is {index} + 1000?")
            frames = await ws.run_to_end(accepted["run_id"])
            await ws.send({"type": "ping"})
            frames += await ws.until(lambda f: f["type"] == "pong")
        assert_gapless(frames, ready["stream"]["offset"])
        return accepted["run_id"], frames

    results = await asyncio.gather(*(one(i) for i in range(50)))
    for index, (run_id, frames) in enumerate(results):
        events = [f for f in frames if "offset" in f]
        assert {f["run_id"] for f in events} == {run_id}
        assert events == events_of(frames, run_id)
        assert events[0]["type"] == "agent_started"
        assert events[-1]["type"] == "agent_completed"
        assert events[-1]["data"]["status"] == "ok"
        assert str(index + 1000) in events[-1]["data"]["result"]["text"]
        assert frames[-1] == {"type": "pong"}
