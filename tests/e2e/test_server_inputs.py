"""Hostile input at the edge: NUL characters, lone surrogates and deep nesting get a clear
4xx (or an error frame, or 4401), the same on SQLite and PostgreSQL, and never a 500 or 1011."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import (
    Server,
    User,
    WsClient,
    make_settings,
    new_user,
    open_ws,
    running,
)
from tests.e2e.test_agui import run_input
from tests.e2e.test_server_ws import assert_closed
from tests.services import POSTGRES_URL, postgres_database

pytestmark = pytest.mark.e2e

NESTED = "[" * 5000 + "]" * 5000
"""Deep enough for a RecursionError in a recursive parser, well under the 64 KiB frame limit."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("goldpath")
    if request.param == "sqlite":
        with running(make_settings(data_dir)) as srv:
            yield srv
        return
    with (
        postgres_database() as name,
        running(make_settings(data_dir, database_url=f"{POSTGRES_URL}/{name}")) as srv,
    ):
        yield srv


@pytest.fixture
async def user(http: httpx.AsyncClient) -> User:
    return await new_user(http)


def _refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.json()["error"]["code"] in ("bad_request", "not_found", "unauthorized")


@pytest.mark.parametrize("bad", ["a\u0000b", "a\udfffb"])
async def test_nul_and_surrogates_in_bodies_are_bad_requests(
    http: httpx.AsyncClient, user: User, bad: str
) -> None:
    def body(**fields: str) -> bytes:
        return json.dumps(fields).encode()  # json escapes both: valid UTF-8 on the wire

    headers = {**user.headers, "Content-Type": "application/json"}
    login = await http.post(
        "/auth/login",
        content=body(username=bad, password="whatever1"),
        headers={"Content-Type": "application/json"},
    )
    _refused(login, 422)
    login = await http.post(
        "/auth/login",
        content=body(username=user.username, password=bad),
        headers={"Content-Type": "application/json"},
    )
    _refused(login, 422)
    register = await http.post(
        "/auth/register",
        content=body(username="nul_user", password=f"password{bad}"),
        headers={"Content-Type": "application/json"},
    )
    _refused(register, 422)
    thread = await http.post("/threads", content=body(title=bad), headers=headers)
    _refused(thread, 422)
    thread = await http.post("/threads", json={"title": "fine"}, headers=user.headers)
    thread_id = thread.json()["thread_id"]
    run = await http.post(f"/threads/{thread_id}/runs", content=body(message=bad), headers=headers)
    _refused(run, 422)
    run = await http.post(
        f"/threads/{thread_id}/runs", content=body(message="hi", agent=bad), headers=headers
    )
    _refused(run, 422)
    assert (await http.get("/health")).status_code == 200


@pytest.mark.parametrize("bad", ["%00", "thr_%00", "%ED%BF%BF"])
async def test_nul_in_path_ids_is_not_found(http: httpx.AsyncClient, user: User, bad: str) -> None:
    for response in (
        await http.get(f"/threads/{bad}", headers=user.headers),
        await http.post(f"/threads/{bad}/runs", json={"message": "hi"}, headers=user.headers),
        await http.get(f"/runs/{bad}", headers=user.headers),
        await http.post(f"/runs/{bad}/cancel", headers=user.headers),
    ):
        _refused(response, 404, 422)


async def test_a_deeply_nested_login_body_is_a_bad_request(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/auth/login", content=NESTED, headers={"Content-Type": "application/json"}
    )
    _refused(response, 422)
    response = await http.post(
        "/threads", content=NESTED, headers={"Content-Type": "application/json"}
    )
    _refused(response, 422)
    not_utf8 = await http.post(
        "/auth/register", content=b"\xa9\x05\x13", headers={"Content-Type": "application/json"}
    )
    _refused(not_utf8, 422)  # a body FastAPI cannot parse is a bad body, as documented


async def test_a_deeply_nested_frame_gets_bad_request_and_the_socket_stays_open(
    server: Server, user: User
) -> None:
    client, _ = await open_ws(server, user)
    async with client.connection:
        await client.send(NESTED)
        error = await client.recv()
        assert error["type"] == "error"
        assert error["code"] == "bad_request"
        await client.send('{"type":"chat","message":' + NESTED + "}")
        assert (await client.recv())["code"] == "bad_request"
        await client.send({"type": "ping"})
        assert (await client.recv())["type"] == "pong"


async def test_a_deeply_nested_auth_frame_closes_with_4401(server: Server) -> None:
    client = WsClient(await connect(server.ws_url))
    async with client.connection:
        await client.send(NESTED)
        await assert_closed(client, 4401)


@pytest.mark.parametrize("bad", ["\udfff", "a\u0000"])
async def test_bad_text_in_chat_frames_starts_no_run(
    server: Server, http: httpx.AsyncClient, user: User, bad: str
) -> None:
    client, _ = await open_ws(server, user)
    async with client.connection:
        # json.dumps escapes the surrogate: the frame is valid UTF-8, its string is not text.
        for fields in (
            {"message": "hi", "client_msg_id": bad},
            {"message": bad, "client_msg_id": "c1"},
            {"message": "hi", "thread_id": bad},
            {"message": "hi", "agent": bad},
        ):
            await client.send(json.dumps({"type": "chat", **fields}))
            error = await client.recv()
            assert error["type"] == "error", error
            assert error["code"] in ("bad_request", "not_found"), error
            assert error.get("ref") in (None, "c1"), error
        await client.send(json.dumps({"type": "cancel", "run_id": bad, "client_msg_id": bad}))
        error = await client.recv()
        assert error["code"] in ("bad_request", "not_found"), error
        assert "ref" not in error
        await client.send(json.dumps({"type": "nope", "client_msg_id": bad}))
        assert "ref" not in await client.recv()
        accepted = await client.chat("still here")
        await client.run_to_end(accepted["run_id"])
    threads = (await http.get("/threads", headers=user.headers)).json()
    assert len(threads) == 1  # only the chat that was fine started a run


@pytest.mark.parametrize("bad", ["\udfff", "a\u0000b"])
async def test_bad_text_in_the_auth_token_closes_with_4401(server: Server, bad: str) -> None:
    client = WsClient(await connect(server.ws_url))
    async with client.connection:
        await client.send(json.dumps({"type": "auth", "token": bad}))
        await assert_closed(client, 4401)


@pytest.mark.parametrize("name", ["Token", "TOKEN", "Access_Token", "ACCESS_TOKEN"])
async def test_a_token_in_the_url_in_any_case_is_refused_at_once(
    server: Server, user: User, name: str
) -> None:
    # A valid auth frame follows: only the URL's token can make the server refuse.
    client = WsClient(await connect(f"{server.ws_url}?{name}={user.token}"))
    async with client.connection:
        with contextlib.suppress(ConnectionClosed):  # refused already, as it should be
            await client.send({"type": "auth", "token": user.token})
        await assert_closed(client, 4401)


@pytest.mark.parametrize("bad", ["a\u0000b", "a\udfffb"])
@pytest.mark.parametrize("field", ["message", "threadId", "runId"])
async def test_bad_text_in_an_ag_ui_run_is_a_bad_request(
    http: httpx.AsyncClient, user: User, bad: str, field: str
) -> None:
    values = {"message": "hi", "threadId": "t", "runId": "r"} | {field: bad}
    body = run_input(values["message"], values["threadId"], values["runId"])
    response = await http.post(
        "/ag-ui",
        content=json.dumps(body).encode(),
        headers={**user.headers, "Content-Type": "application/json"},
    )
    _refused(response, 422, 404)
    for thread in (await http.get("/threads", headers=user.headers)).json():  # no run started
        detail = await http.get(f"/threads/{thread['thread_id']}", headers=user.headers)
        assert detail.json()["messages"] == []
