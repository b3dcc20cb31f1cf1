"""``GET /stream``: the user's stream as SSE, with the guarantees of ``/ws``."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Server, User, new_user, open_ws
from tests.e2e.sse import SseEvent, open_stream

pytestmark = pytest.mark.e2e


async def _start(http: httpx.AsyncClient, user: User, message: str) -> str:
    thread = await http.post("/threads", json={}, headers=user.headers)
    run = await http.post(
        f"/threads/{thread.json()['thread_id']}/runs",
        json={"message": message},
        headers=user.headers,
    )
    assert run.status_code == 202, run.text
    run_id: str = run.json()["run_id"]
    return run_id


def _ended(run_id: str) -> Callable[[SseEvent], bool]:
    return lambda e: e.event == "agent_completed" and e.data["run_id"] == run_id


def _events(received: list[SseEvent]) -> list[SseEvent]:
    return [e for e in received if "offset" in e.data]


async def test_live_events_carry_their_position_type_and_frame(
    server: Server, http: httpx.AsyncClient
) -> None:
    user, other = await new_user(http, "sse"), await new_user(http, "sse_other")
    async with open_stream(http, user.headers) as stream:
        ready = await stream.next()
        assert ready.event == "ready"
        epoch, start = ready.data["stream"]["epoch"], ready.data["stream"]["offset"]
        assert ready.id == f"{epoch}:{start}"
        assert ready.data["user_id"] == user.user_id
        await _start(http, other, "What is 2 + 2?")  # never seen here
        run_id = await _start(http, user, "What is 17 * 23?")
        received = _events(await stream.until(_ended(run_id)))
    assert [e.data["offset"] for e in received] == list(range(start + 1, start + 1 + len(received)))
    assert all(e.id == f"{epoch}:{e.data['offset']}" for e in received)
    assert all(e.event == e.data["type"] and e.data["run_id"] == run_id for e in received)
    stored = (await http.get(f"/runs/{run_id}/events", headers=user.headers)).json()
    assert [e.data for e in received] == stored


async def test_last_event_id_resumes_exactly_once_then_live(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "sse")
    async with open_stream(http, user.headers) as stream:
        start = (await stream.next()).data["stream"]["offset"]
        run_id = await _start(http, user, "slow 20")
        seen = await stream.until(lambda e: e.event == "message_delta")
    last_id = seen[-1].id
    assert last_id is not None
    async with open_stream(http, user.headers, last_id) as stream:
        ready = await stream.next()
        assert (ready.event, ready.id) == ("ready", None)  # the client's own id stands
        resumed = await stream.next()
        assert (resumed.event, resumed.id) == ("resumed", None)
        rest = await stream.until(_ended(run_id))
    everything = _events(seen + rest)
    offsets = [e.data["offset"] for e in everything]
    assert offsets == list(range(start + 1, start + 1 + len(offsets)))
    deltas = [e.data["data"]["delta"] for e in everything if e.event == "message_delta"]
    assert deltas == [f"{i} " for i in range(20)]


async def test_a_position_it_cannot_replay_is_a_resync_event(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "sse")
    async with open_stream(http, user.headers, "an-old-epoch:3") as stream:
        ready = await stream.next()
        resync = await stream.next()
    assert resync.event == "resync"
    assert resync.data == {
        "type": "resync",
        "reason": "epoch_changed",
        "epoch": ready.data["stream"]["epoch"],
        "offset": ready.data["stream"]["offset"],
    }
    assert resync.id == f"{resync.data['epoch']}:{resync.data['offset']}"


async def test_the_same_stream_as_the_websocket(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "sse")
    client, _ = await open_ws(server, user)
    async with client.connection, open_stream(http, user.headers) as stream:
        await stream.next()
        accepted = await client.chat("What is 3 * 3?")
        over_ws = await client.run_to_end(accepted["run_id"])
        over_sse = _events(await stream.until(_ended(accepted["run_id"])))
    assert [e.data for e in over_sse] == [f for f in over_ws if "offset" in f]


async def test_refused_without_a_header_with_a_token_in_the_url_or_a_bad_id(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "sse")
    assert (await http.get("/stream")).status_code == 401
    for name in ("token", "Access_Token"):
        refused = await http.get("/stream", params={name: user.token}, headers=user.headers)
        assert refused.status_code == 401, name
        assert refused.json()["error"]["code"] == "unauthorized"
    for bad in ("no-colon", "epoch:x", ":5", "epoch:1.5"):
        answer = await http.get("/stream", headers={**user.headers, "Last-Event-ID": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["code"] == "bad_request"
