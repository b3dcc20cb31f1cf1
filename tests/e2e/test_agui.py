"""``POST /ag-ui`` on a real server: AG-UI 1.0 events over SSE, per-user ids, refusals."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from goldpath.server._agui import agui_id
from tests.agui import SseEvent, check_run, parse_sse, read_sse
from tests.e2e.conftest import (
    FRAME_TIMEOUT,
    Server,
    User,
    make_settings,
    new_user,
    open_ws,
    running,
)

pytestmark = pytest.mark.e2e


def run_input(message: str, thread_id: str, run_id: str | None = None) -> dict[str, Any]:
    """A RunAgentInput as the official client sends it (camelCase, every optional field)."""
    return {
        "threadId": thread_id,
        "runId": run_id or f"run-{uuid.uuid4()}",
        "protocolVersion": "1.0",
        "state": {},
        "messages": [
            {"id": "m0", "role": "user", "content": "an earlier question the server ignores"},
            {"id": "m1", "role": "assistant", "content": "an earlier answer"},
            {"id": "m2", "role": "user", "content": message},
        ],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }


async def ag_ui(http: httpx.AsyncClient, user: User, body: dict[str, Any]) -> list[SseEvent]:
    async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
        return await read_sse(response)


async def test_the_golden_path_as_ag_ui_events(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "agui")
    body = run_input("What is 17 * 23?", "my-thread", "my-run")
    events = await ag_ui(http, user, body)

    models = check_run(events)
    kinds = [e.type for e in events]
    assert kinds[:6] == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
    ]
    assert kinds[6:10] == ["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"]
    assert kinds[10] == "TEXT_MESSAGE_START"
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert set(kinds[11:-2]) == {"TEXT_MESSAGE_CONTENT"}
    started, finished = events[0].data, events[-1].data
    assert started == {
        "type": "RUN_STARTED",
        "timestamp": started["timestamp"],
        "threadId": "my-thread",
        "runId": "my-run",
        "protocolVersion": "1.0",
    }
    assert finished == {
        "type": "RUN_FINISHED",
        "timestamp": finished["timestamp"],
        "threadId": "my-thread",
        "runId": "my-run",
        "outcome": {"type": "success"},
    }
    assert events[6].data["toolCallName"] == "calculator"
    assert events[7].data["delta"] == '{"expression":"17 * 23"}'
    assert events[9].data["content"] == "391"
    answer = "".join(e.data["delta"] for e in events if e.type == "TEXT_MESSAGE_CONTENT")
    assert "391" in answer
    assert len({e.epoch for e in events}) == 1
    assert len(models) == len(events)

    # The run is goldpath's like any other: its thread holds the question and the answer.
    threads = (await http.get("/threads", headers=user.headers)).json()
    assert [t["thread_id"] for t in threads] == [agui_id("thr", user.user_id, "my-thread")]
    detail = (await http.get(f"/threads/{threads[0]['thread_id']}", headers=user.headers)).json()
    assert [(m["role"], m["text"]) for m in detail["messages"]] == [
        ("user", "What is 17 * 23?"),
        ("assistant", answer),
    ]
    assert detail["title"] == "What is 17 * 23?"
    run = await http.get(f"/runs/{agui_id('run', user.user_id, 'my-run')}", headers=user.headers)
    assert run.json()["status"] == "ok"


async def test_a_thread_id_is_the_users_own(http: httpx.AsyncClient) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    await ag_ui(http, ann, run_input("What is 2 + 2?", "shared-name"))
    await ag_ui(http, ann, run_input("What is 3 + 3?", "shared-name"))
    await ag_ui(http, bob, run_input("What is 4 + 4?", "shared-name"))

    ann_threads = (await http.get("/threads", headers=ann.headers)).json()
    bob_threads = (await http.get("/threads", headers=bob.headers)).json()
    assert len(ann_threads) == 1
    assert len(bob_threads) == 1
    assert ann_threads[0]["thread_id"] != bob_threads[0]["thread_id"]
    ann_thread = (
        await http.get(f"/threads/{ann_threads[0]['thread_id']}", headers=ann.headers)
    ).json()
    assert [m["text"] for m in ann_thread["messages"] if m["role"] == "user"] == [
        "What is 2 + 2?",
        "What is 3 + 3?",
    ]
    bob_thread = (
        await http.get(f"/threads/{bob_threads[0]['thread_id']}", headers=bob.headers)
    ).json()
    assert [m["text"] for m in bob_thread["messages"] if m["role"] == "user"] == ["What is 4 + 4?"]


async def test_a_run_id_is_used_once_per_user(http: httpx.AsyncClient) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    await ag_ui(http, ann, run_input("What is 2 + 2?", "t", "the-run"))
    again = await http.post(
        "/ag-ui", json=run_input("What is 2 + 2?", "t", "the-run"), headers=ann.headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    # Another user's run of the same client id is their own.
    events = await ag_ui(http, bob, run_input("What is 2 + 2?", "t", "the-run"))
    assert events[-1].data["outcome"] == {"type": "success"}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"messages": []}, 422, "bad_request"),
        ({"messages": [{"id": "a", "role": "assistant", "content": "hi"}]}, 422, "bad_request"),
        (
            {"messages": [{"id": "a", "role": "user", "content": [{"type": "image"}]}]},
            422,
            "bad_request",
        ),
        ({"messages": [{"id": "a", "role": "user", "content": None}]}, 422, "bad_request"),
        ({"threadId": "null"}, 422, "bad_request"),
        ({"runId": " "}, 422, "bad_request"),
        ({"threadId": None}, 422, "bad_request"),
        ({"resume": [{"interruptId": "i1", "status": "resolved"}]}, 422, "bad_request"),
        ({"resume": [{"interruptId": "i1", "status": "done"}]}, 422, "bad_request"),
        ({"resume": [{"interruptId": "i1", "status": "cancelled"}]}, 404, "not_found"),
    ],
)
async def test_a_bad_input_is_refused_before_any_run(
    http: httpx.AsyncClient, change: dict[str, Any], status: int, code: str
) -> None:
    user = await new_user(http, "bad")
    body = {**run_input("What is 2 + 2?", "t"), **change}
    response = await http.post("/ag-ui", json=body, headers=user.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await http.get("/threads", headers=user.headers)).json() == []


async def test_text_parts_are_the_message(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "parts")
    body = run_input("", "t")
    body["messages"][-1]["content"] = [
        {"type": "text", "text": "What is "},
        {"type": "text", "text": "6 * 7?"},
    ]
    events = await ag_ui(http, user, body)
    assert any(e.data.get("content") == "42" for e in events)


async def test_a_token_is_required(http: httpx.AsyncClient) -> None:
    response = await http.post("/ag-ui", json=run_input("What is 2 + 2?", "t"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_run_outlives_the_connection(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "leaver")
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        await ws.send({"type": "ping"})
        await ws.until(lambda f: f["type"] == "pong")
        body = run_input("slow 6", "t", "leaving")
        async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
            lines = response.aiter_lines()
            async for line in lines:
                if line.startswith("data: ") and "TEXT_MESSAGE_CONTENT" in line:
                    break  # the client goes away in the middle of the answer
        frames = await ws.run_to_end(agui_id("run", user.user_id, "leaving"))
    assert frames[-1]["data"]["status"] == "ok"
    assert frames[-1]["data"]["result"]["text"] == "0 1 2 3 4 5 "


async def test_a_timeout_ends_the_stream_with_run_error(tmp_path: Path) -> None:
    """ag-ui#2300: a run that fails never looks like a success to the client."""
    with running(make_settings(tmp_path, run_timeout=0.5)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=FRAME_TIMEOUT) as http:
            user = await new_user(http, "slowpoke")
            events = await ag_ui(http, user, run_input("sleep", "t", "sleepy"))
    check_run(events)
    assert events[-1].data == {
        "type": "RUN_ERROR",
        "timestamp": events[-1].data["timestamp"],
        "message": events[-1].data["message"],
        "code": "timeout",
    }
    assert [e.type for e in events][:-1] == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
    ]


async def test_a_cancelled_run_finishes_with_the_cancelled_outcome(
    http: httpx.AsyncClient,
) -> None:
    user = await new_user(http, "canceller")
    body = run_input("slow 50", "t", "to-cancel")
    text = ""
    async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
        chunks = response.aiter_text()
        async for chunk in chunks:
            text += chunk
            if "TEXT_MESSAGE_CONTENT" in text and text.endswith("\n\n"):
                run_id = agui_id("run", user.user_id, "to-cancel")
                cancel = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
                assert cancel.status_code == 202
                break
        async for chunk in chunks:
            text += chunk
    events = parse_sse(text)
    check_run(events)
    assert events[-2].type == "TEXT_MESSAGE_END"
    assert events[-1].data["outcome"] == {"type": "cancelled"}


async def test_new_threads_count_against_the_users_cap(tmp_path: Path) -> None:
    with running(make_settings(tmp_path, threads_per_minute=2)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=FRAME_TIMEOUT) as http:
            user = await new_user(http, "threads")
            for thread in ("one", "two", "one", "two"):  # known threads are not new
                await ag_ui(http, user, run_input("What is 2 + 2?", thread))
            refused = await http.post(
                "/ag-ui", json=run_input("What is 2 + 2?", "three"), headers=user.headers
            )
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert int(refused.headers["Retry-After"]) > 0
            assert len((await http.get("/threads", headers=user.headers)).json()) == 2
