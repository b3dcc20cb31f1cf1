"""The offline model through the real server: a follow-up question uses the last answer."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Server, events_of, new_user, open_ws

pytestmark = pytest.mark.e2e


async def test_follow_up_goes_on_from_the_previous_answer(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "followup")
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        first = await ws.chat("What is 17 * 23?")
        await ws.run_to_end(first["run_id"])
        second = await ws.chat("And that plus 9?", thread_id=first["thread_id"])
        frames = events_of(await ws.run_to_end(second["run_id"]), second["run_id"])

    executing = next(f["data"] for f in frames if f["type"] == "tool_executing")
    completed = next(f["data"] for f in frames if f["type"] == "tool_completed")
    assert (executing["tool"], executing["args"]) == ("calculator", {"expression": "391 + 9"})
    assert completed["result"] == 400
    end = frames[-1]["data"]
    assert (end["status"], end["result"]["text"]) == ("ok", "391 + 9 = 400.")

    thread = await http.get(f"/threads/{first['thread_id']}", headers=user.headers)
    assert [m["text"] for m in thread.json()["messages"]] == [
        "What is 17 * 23?",
        "17 * 23 = 391.",
        "And that plus 9?",
        "391 + 9 = 400.",
    ]


async def test_a_follow_up_in_a_new_thread_has_nothing_to_go_on_from(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "followup")
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        await ws.run_to_end((await ws.chat("What is 17 * 23?"))["run_id"])
        fresh = await ws.chat("And that plus 9?")  # no thread_id: a new conversation
        frames = events_of(await ws.run_to_end(fresh["run_id"]), fresh["run_id"])

    assert not any(f["type"] == "tool_executing" for f in frames)
    text = frames[-1]["data"]["result"]["text"]
    assert text.startswith("There is no earlier result in this conversation")
