"""``/ws`` as PROTOCOL.md says: authentication, origins, frames, errors, ordering, tabs."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import (
    TEST_SECRET,
    Server,
    User,
    WsClient,
    assert_gapless,
    events_of,
    new_user,
    open_ws,
)

pytestmark = pytest.mark.e2e


async def assert_closed(client: WsClient, code: int) -> None:
    """The next thing on the connection is its close, with ``code``, and no frame before."""
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


async def still_serving(server: Server, user: User) -> None:
    client, _ = await open_ws(server, user)
    async with client.connection:
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}


def claims(user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": user.user_id,
        "iat": now,
        "exp": now + 600,
        "aud": "goldpath",
        "iss": "goldpath",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def bad_tokens(user: User) -> dict[str, str]:
    good = jwt.encode(claims(user), TEST_SECRET, algorithm="HS256")
    head, body, signature = good.split(".")
    unsigned = jwt.encode(claims(user), "", algorithm="none")
    return {
        "expired": jwt.encode(
            claims(user, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            TEST_SECRET,
            algorithm="HS256",
        ),
        "alg none": unsigned,
        "alg none, no signature": unsigned.rstrip("."),
        "tampered": f"{head}.{body[:-2]}{'AA' if body[-2:] != 'AA' else 'BB'}.{signature}",
        "other key": jwt.encode(claims(user), "another-secret" * 4, algorithm="HS256"),
        "wrong audience": jwt.encode(claims(user, aud="someone"), TEST_SECRET, algorithm="HS256"),
        "wrong issuer": jwt.encode(claims(user, iss="someone"), TEST_SECRET, algorithm="HS256"),
        "no exp": jwt.encode(claims(user, exp=None), TEST_SECRET, algorithm="HS256"),
        "no aud": jwt.encode(claims(user, aud=None), TEST_SECRET, algorithm="HS256"),
        "HS512": jwt.encode(claims(user), TEST_SECRET, algorithm="HS512"),
        "garbage": "not.a.jwt",
        "empty": "",
    }


async def test_auth_by_first_frame(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "frameauth")
    async with connect(server.ws_url) as connection:
        client = WsClient(connection)
        await client.send({"type": "auth", "token": user.token})
        ready = await client.recv()
        assert ready["type"] == "ready"
        assert ready["user_id"] == user.user_id
        assert set(ready["stream"]) == {"epoch", "offset"}
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}


async def test_bad_tokens_close_4401(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "badtoken")
    for token in bad_tokens(user).values():
        async with connect(
            server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as connection:
            await assert_closed(WsClient(connection), 4401)
        async with connect(server.ws_url) as connection:
            client = WsClient(connection)
            await client.send({"type": "auth", "token": token})
            await assert_closed(client, 4401)
    await still_serving(server, user)


@pytest.mark.parametrize(
    "first",
    [
        {"type": "ping"},
        {"type": "auth"},
        {"type": "auth", "token": 5},
        "not json",
        {"type": "chat", "message": "hi"},
    ],
)
async def test_first_frame_must_be_auth(server: Server, first: Any) -> None:
    async with connect(server.ws_url) as connection:
        client = WsClient(connection)
        await client.send(first if isinstance(first, str) else json.dumps(first))
        await assert_closed(client, 4401)


async def test_no_auth_frame_in_time(server: Server, http: httpx.AsyncClient) -> None:
    async with connect(server.ws_url) as connection:
        await assert_closed(WsClient(connection), 4401)
    await still_serving(server, await new_user(http, "slowauth"))


async def test_token_in_the_url_never_authenticates(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "urltoken")
    for name in ("token", "access_token"):
        async with connect(f"{server.ws_url}?{name}={user.token}") as connection:
            await assert_closed(WsClient(connection), 4401)
        async with connect(f"{server.ws_url}?{name}={user.token}") as connection:
            client = WsClient(connection)
            with contextlib.suppress(ConnectionClosed):  # the server may have closed already
                await client.send({"type": "auth", "token": user.token})
            await assert_closed(client, 4401)


async def test_origin(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "origin")
    port = server.base_url.rsplit(":", 1)[1]
    for bad in ("http://evil.example", f"http://localhost.evil:{port}", "http://127.0.0.1:1"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                server.ws_url,
                origin=bad,  # type: ignore[arg-type]
                additional_headers={"Authorization": f"Bearer {user.token}"},
            )
        assert refused.value.response.status_code == 403
    client, ready = await open_ws(server, user, origin=f"http://127.0.0.1:{port}")
    async with client.connection:
        assert ready["user_id"] == user.user_id
    await still_serving(server, user)


async def test_bad_frames_get_errors_and_the_connection_stays(
    server: Server, http: httpx.AsyncClient
) -> None:
    user, other = await new_user(http, "frames"), await new_user(http, "frames_other")
    theirs = (await http.post("/threads", headers=other.headers)).json()["thread_id"]
    client, _ = await open_ws(server, user)
    cases: list[tuple[Any, str, str | None]] = [
        ("{not json", "bad_request", None),
        ("[1, 2]", "bad_request", None),
        ({"no": "type"}, "bad_request", None),
        ({"type": "dance"}, "bad_request", None),
        ({"type": "chat", "client_msg_id": "c1"}, "bad_request", "c1"),
        ({"type": "chat", "message": 5, "client_msg_id": "c2"}, "bad_request", "c2"),
        ({"type": "chat", "message": "hi", "thread_id": 7}, "bad_request", None),
        ({"type": "cancel"}, "bad_request", None),
        ({"type": "resume", "epoch": "e", "offset": "1"}, "bad_request", None),
        ({"type": "chat", "message": "x" * 32001, "client_msg_id": "c3"}, "too_large", "c3"),
        (
            {"type": "chat", "message": "hi", "agent": "ghost", "client_msg_id": "c4"},
            "bad_request",
            "c4",
        ),
        (
            {"type": "chat", "message": "hi", "thread_id": theirs, "client_msg_id": "c5"},
            "not_found",
            "c5",
        ),
        ({"type": "chat", "message": "hi", "thread_id": "thr_nope"}, "not_found", None),
        ({"type": "cancel", "run_id": "run_nope"}, "not_found", None),
        ({"type": "auth", "token": user.token}, "bad_request", None),
    ]
    async with client.connection:
        for frame, code, ref in cases:
            await client.send(frame if isinstance(frame, str) else json.dumps(frame))
            error = await client.recv()
            assert error["type"] == "error", (frame, error)
            assert error["code"] == code, (frame, error)
            assert error["message"]
            if ref is None:
                assert "ref" not in error
            else:
                assert error["ref"] == ref
            await client.send({"type": "ping"})
            assert await client.recv() == {"type": "pong"}
        assert (await http.get("/threads", headers=user.headers)).json() == []


async def test_oversize_frame_closes_1009(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "oversize")
    client, _ = await open_ws(server, user)
    async with client.connection:
        await client.send({"type": "chat", "message": "x" * 70_000})
        await assert_closed(client, 1009)
    async with connect(server.ws_url) as connection:
        client = WsClient(connection)
        await client.send(json.dumps({"type": "auth", "token": user.token, "pad": "x" * 70_000}))
        await assert_closed(client, 1009)
    await still_serving(server, user)


async def test_cancel_and_conflict_over_ws(server: Server, http: httpx.AsyncClient) -> None:
    user, other = await new_user(http, "wscancel"), await new_user(http, "wscancel_other")
    client, _ = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("sleep")
        run_id = accepted["run_id"]
        await client.until(lambda f: f.get("type") == "agent_thinking")
        intruder, _ = await open_ws(server, other)
        async with intruder.connection:
            await intruder.send({"type": "cancel", "run_id": run_id})
            refused = await intruder.recv()
            assert refused["type"] == "error"
            assert refused["code"] == "not_found"
        await client.send({"type": "cancel", "run_id": run_id})
        frames = await client.run_to_end(run_id)
        assert frames[-1]["data"]["status"] == "cancelled"
        await client.send({"type": "cancel", "run_id": run_id})
        conflict = await client.recv()
        assert conflict["type"] == "error"
        assert conflict["code"] == "conflict"
    run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "cancelled"


async def test_every_tab_gets_every_event_and_held_events_arrive(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "tabs")
    quiet, quiet_ready = await open_ws(server, user)
    talker, talker_ready = await open_ws(server, user)
    async with quiet.connection, talker.connection:
        first = await talker.chat("What is 6 * 7?", client_msg_id="a")
        talked = await talker.run_to_end(first["run_id"])
        # The quiet tab has sent nothing yet: its events were held, and arrive now, in order.
        await quiet.send({"type": "ping"})
        heard = await quiet.until(lambda f: f["type"] == "pong")
        assert heard[:-1] == talked
        assert_gapless(heard[:-1], quiet_ready["stream"]["offset"])
        second = await talker.chat("What is 1 + 2?", thread_id=first["thread_id"])
        assert second["thread_id"] == first["thread_id"]
        assert second["client_msg_id"] is None
        talked = await talker.run_to_end(second["run_id"])
        heard = await quiet.run_to_end(second["run_id"])
        assert heard == talked == events_of(talked, second["run_id"])
    detail = (await http.get(f"/threads/{first['thread_id']}", headers=user.headers)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    assert talker_ready["stream"]["offset"] == quiet_ready["stream"]["offset"]


async def test_pong_follows_everything_due(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "pong")
    client, ready = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("slow 5")
        await client.send({"type": "ping"})
        frames = await client.until(lambda f: f["type"] == "pong")
        assert all(f["run_id"] == accepted["run_id"] for f in frames[:-1])
        rest = await client.run_to_end(accepted["run_id"])
        assert_gapless(frames[:-1] + rest, ready["stream"]["offset"])


@pytest.mark.parametrize("bad_id", ["undefined", "null", "None", " "])
async def test_placeholder_ids_over_ws_are_not_found(
    server: Server, http: httpx.AsyncClient, bad_id: str
) -> None:
    user = await new_user(http, "wsplaceholder")
    client, _ = await open_ws(server, user)
    async with client.connection:
        await client.send(
            {"type": "chat", "message": "hi", "thread_id": bad_id, "client_msg_id": "p1"}
        )
        error = await client.recv()
        assert error["type"] == "error"
        assert error["code"] == "not_found"
        assert error["ref"] == "p1"
        await client.send({"type": "cancel", "run_id": bad_id})
        error = await client.recv()
        assert error["type"] == "error"
        assert error["code"] == "not_found"
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}
    assert (await http.get("/threads", headers=user.headers)).json() == []


async def test_an_empty_agent_name_is_refused_over_ws(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "wsnoagent")
    client, _ = await open_ws(server, user)
    async with client.connection:
        await client.send({"type": "chat", "message": "hi", "agent": "", "client_msg_id": "a1"})
        error = await client.recv()
        assert error["type"] == "error"
        assert error["code"] == "bad_request"
        assert error["ref"] == "a1"
        assert "agent" in error["message"]
