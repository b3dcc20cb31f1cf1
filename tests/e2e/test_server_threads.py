"""Threads over real sockets: rename (PATCH), delete (DELETE, cancelling a run in flight
first), and paging of the thread list and of a thread's messages (docs/protocol.md)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Server, User, new_user, open_ws

pytestmark = pytest.mark.e2e


async def _thread(http: httpx.AsyncClient, user: User, title: str) -> dict[str, str]:
    made = await http.post("/threads", json={"title": title}, headers=user.headers)
    assert made.status_code == 201, made.text
    body: dict[str, str] = made.json()
    return body


async def test_rename(http: httpx.AsyncClient) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    thread = await _thread(http, ann, "first")
    path = f"/threads/{thread['thread_id']}"
    renamed = await http.patch(path, json={"title": "  second  "}, headers=ann.headers)
    assert renamed.status_code == 200
    assert renamed.json() == {**thread, "title": "second"}  # updated_at stays
    assert (await http.get(path, headers=ann.headers)).json()["title"] == "second"
    for body in ({"title": "   "}, {"title": ""}, {"title": "x" * 201}, {}, {"title": 5}):
        refused = await http.patch(path, json=body, headers=ann.headers)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["code"] == "bad_request"
    for who, where in ((bob, path), (ann, "/threads/thr_missing"), (ann, "/threads/null")):
        missing = await http.patch(where, json={"title": "mine"}, headers=who.headers)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    assert (await http.patch(path, json={"title": "x"})).status_code == 401
    assert (await http.get(path, headers=ann.headers)).json()["title"] == "second"


async def test_delete_cancels_the_run_in_flight_then_deletes_everything(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    ws, _ = await open_ws(server, ann)
    try:
        accepted = await ws.chat("sleep")  # runs for 60 s unless cancelled
        thread_id, run_id = accepted["thread_id"], accepted["run_id"]
        await ws.until(lambda f: f.get("type") == "agent_thinking")
        path = f"/threads/{thread_id}"
        assert (await http.delete(path, headers=bob.headers)).status_code == 404
        assert (await http.get(f"/runs/{run_id}", headers=ann.headers)).json()["status"] == (
            "running"
        )
        deleted = await http.delete(path, headers=ann.headers)
        assert (deleted.status_code, deleted.content) == (204, b"")
        completed = (await ws.run_to_end(run_id))[-1]
        assert completed["data"]["status"] == "cancelled"
    finally:
        await ws.connection.close()
    assert (await http.get(path, headers=ann.headers)).status_code == 404
    assert (await http.get(f"/runs/{run_id}", headers=ann.headers)).status_code == 404
    assert thread_id not in [
        t["thread_id"] for t in (await http.get("/threads", headers=ann.headers)).json()
    ]
    again = await http.delete(path, headers=ann.headers)
    assert again.status_code == 404
    assert (await http.delete(path)).status_code == 401


async def test_the_thread_list_is_paged(http: httpx.AsyncClient) -> None:
    ann = await new_user(http, "ann")
    made = [await _thread(http, ann, f"t{n}") for n in range(5)]
    newest_first = [t["thread_id"] for t in reversed(made)]
    whole = await http.get("/threads", headers=ann.headers)
    assert [t["thread_id"] for t in whole.json()] == newest_first
    assert "X-Next-Cursor" not in whole.headers
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await http.get("/threads", params=params, headers=ann.headers)
        assert page.status_code == 200
        assert isinstance(page.json(), list)
        seen += [t["thread_id"] for t in page.json()]
        pages += 1
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert (seen, pages) == (newest_first, 3)
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"cursor": "nonsense"}):
        refused = await http.get("/threads", params=params, headers=ann.headers)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["code"] == "bad_request"


async def test_a_threads_messages_are_paged(server: Server, http: httpx.AsyncClient) -> None:
    ann = await new_user(http, "ann")
    ws, _ = await open_ws(server, ann)
    try:
        thread_id = None
        for question in ("What is 2 + 3?", "What is 4 * 5?"):
            fields: dict[str, str] = {"thread_id": thread_id} if thread_id else {}
            accepted = await ws.chat(question, **fields)
            thread_id = accepted["thread_id"]
            await ws.run_to_end(accepted["run_id"])
    finally:
        await ws.connection.close()
    path = f"/threads/{thread_id}"
    whole = (await http.get(path, headers=ann.headers)).json()["messages"]
    assert [m["role"] for m in whole] == ["user", "assistant", "user", "assistant"]
    first = await http.get(path, params={"limit": 3}, headers=ann.headers)
    assert first.json()["messages"] == whole[:3]
    cursor = first.headers["X-Next-Cursor"]
    rest = await http.get(path, params={"limit": 3, "cursor": cursor}, headers=ann.headers)
    assert rest.json()["messages"] == whole[3:]
    assert "X-Next-Cursor" not in rest.headers
    other = await _thread(http, ann, "other")
    wrong = await http.get(
        f"/threads/{other['thread_id']}", params={"cursor": cursor}, headers=ann.headers
    )
    assert wrong.status_code == 422
    thread_cursor = (await http.get("/threads", params={"limit": 1}, headers=ann.headers)).headers[
        "X-Next-Cursor"
    ]
    mixed = await http.get(path, params={"cursor": thread_cursor}, headers=ann.headers)
    assert mixed.status_code == 422
