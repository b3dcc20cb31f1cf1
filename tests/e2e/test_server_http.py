"""Every HTTP route of PROTOCOL.md: its success and its failures, codes and bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from goldpath import __version__
from goldpath.server import create_app
from tests.e2e.conftest import Server, make_settings, new_user, open_ws, running

pytestmark = pytest.mark.e2e


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.text


async def test_health(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "checks": {"store": "ok", "stream": "ok"},
    }
    assert response.headers["x-request-id"].startswith("req_")


async def test_register(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/auth/register", json={"username": "Reg.User-1", "password": "12345678"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user_id", "username"}
    assert body["username"] == "Reg.User-1"
    taken = await http.post(
        "/auth/register", json={"username": "reg.user-1", "password": "12345678"}
    )
    assert_error(taken, 409, "conflict")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "12345678"},
        {"username": "a" * 65, "password": "12345678"},
        {"username": "has space", "password": "12345678"},
        {"username": "ünïcode", "password": "12345678"},
        {"username": "okname", "password": "1234567"},
        {"username": "okname", "password": "x" * 257},
        {"username": "okname"},
        {"password": "12345678"},
        {"username": 12345, "password": "12345678"},
        [],
    ],
)
async def test_register_refuses_invalid(http: httpx.AsyncClient, body: Any) -> None:
    assert_error(await http.post("/auth/register", json=body), 422, "bad_request")


async def test_register_refuses_malformed_json(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/auth/register", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "bad_request")


async def test_login_json_and_form(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "login")
    by_json = await http.post(
        "/auth/login", json={"username": user.username, "password": user.password}
    )
    assert by_json.status_code == 200
    body = by_json.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    by_form = await http.post(
        "/auth/login",
        data={"username": user.username, "password": user.password, "grant_type": "password"},
    )
    assert by_form.status_code == 200
    threads = await http.get(
        "/threads", headers={"Authorization": f"Bearer {by_form.json()['access_token']}"}
    )
    assert threads.status_code == 200


async def test_login_failures_look_alike_and_are_limited(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "limited")
    wrong = await http.post("/auth/login", json={"username": user.username, "password": "nopenope"})
    unknown = await http.post(
        "/auth/login", json={"username": "nobody_here_at_all", "password": "nopenope"}
    )
    assert_error(wrong, 401, "unauthorized")
    assert_error(unknown, 401, "unauthorized")
    assert wrong.json() == unknown.json()
    for _ in range(4):  # five failures for the account in all
        await http.post("/auth/login", json={"username": user.username, "password": "nopenope"})
    limited = await http.post(
        "/auth/login", json={"username": user.username.upper(), "password": user.password}
    )
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert_error(await http.post("/auth/login", json={"username": "x"}), 422, "bad_request")


async def test_threads(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "threads")
    first = await http.post("/threads", json={"title": "First"}, headers=user.headers)
    assert first.status_code == 201
    assert set(first.json()) == {"thread_id", "title", "created_at", "updated_at"}
    assert first.json()["title"] == "First"
    assert first.json()["created_at"].endswith("Z")
    second = await http.post("/threads", headers=user.headers)
    assert second.status_code == 201
    assert second.json()["title"] == "New chat"
    listed = await http.get("/threads", headers=user.headers)
    assert [t["thread_id"] for t in listed.json()] == [
        second.json()["thread_id"],
        first.json()["thread_id"],
    ]
    detail = await http.get(f"/threads/{first.json()['thread_id']}", headers=user.headers)
    assert detail.json() == {**first.json(), "messages": []}
    assert_error(
        await http.post("/threads", json={"title": 5}, headers=user.headers), 422, "bad_request"
    )


async def test_everything_needs_a_valid_token(http: httpx.AsyncClient) -> None:
    calls = [
        ("GET", "/threads"),
        ("POST", "/threads"),
        ("GET", "/threads/thr_x"),
        ("POST", "/threads/thr_x/runs"),
        ("GET", "/runs/run_x"),
        ("POST", "/runs/run_x/cancel"),
    ]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = await http.request(method, path, headers=headers, json={"message": "hi"})
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_runs_over_http(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "runs")
    thread = (await http.post("/threads", headers=user.headers)).json()
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
        started = await http.post(
            f"/threads/{thread['thread_id']}/runs",
            json={"message": "What is 2 + 2?"},
            headers=user.headers,
        )
        assert started.status_code == 202
        accepted = started.json()
        assert accepted == {"run_id": accepted["run_id"], "thread_id": thread["thread_id"]}
        frames = await ws.run_to_end(accepted["run_id"])
    assert frames[-1]["data"]["status"] == "ok"
    run = (await http.get(f"/runs/{accepted['run_id']}", headers=user.headers)).json()
    assert set(run) == {
        "run_id",
        "thread_id",
        "agent",
        "status",
        "created_at",
        "finished_at",
        "result",
    }
    assert run["agent"] == "supervisor"
    assert run["status"] == "ok"
    assert "4" in run["result"]["text"]
    assert_error(
        await http.post(f"/runs/{accepted['run_id']}/cancel", headers=user.headers),
        409,
        "conflict",
    )


async def test_run_failures(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "runfail")
    thread = (await http.post("/threads", headers=user.headers)).json()
    path = f"/threads/{thread['thread_id']}/runs"
    too_long = await http.post(path, json={"message": "x" * 32001}, headers=user.headers)
    assert_error(too_long, 422, "too_large")
    for body in ({}, {"message": ""}, {"message": 5}, {"message": "hi", "agent": 3}):
        assert_error(await http.post(path, json=body, headers=user.headers), 422, "bad_request")
    unknown_agent = await http.post(
        path, json={"message": "hi", "agent": "nobody"}, headers=user.headers
    )
    assert_error(unknown_agent, 422, "bad_request")
    assert "supervisor" in unknown_agent.json()["error"]["message"]
    missing = await http.post(
        "/threads/thr_missing/runs", json={"message": "hi"}, headers=user.headers
    )
    assert_error(missing, 404, "not_found")
    assert_error(await http.get("/runs/run_missing", headers=user.headers), 404, "not_found")
    assert_error(
        await http.post("/runs/run_missing/cancel", headers=user.headers), 404, "not_found"
    )
    assert_error(await http.get("/threads/thr_missing", headers=user.headers), 404, "not_found")


async def test_runs_in_flight_and_cancel(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "inflight")
    thread = (await http.post("/threads", headers=user.headers)).json()
    path = f"/threads/{thread['thread_id']}/runs"
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
        run_ids = []
        for _ in range(4):
            started = await http.post(path, json={"message": "sleep"}, headers=user.headers)
            assert started.status_code == 202
            run_ids.append(started.json()["run_id"])
        refused = await http.post(path, json={"message": "sleep"}, headers=user.headers)
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
        await ws.send({"type": "chat", "message": "sleep", "client_msg_id": "fifth"})
        error = (await ws.until(lambda f: f["type"] == "error"))[-1]
        assert error == {
            "type": "error",
            "code": "rate_limited",
            "message": error["message"],
            "ref": "fifth",
        }
        for run_id in run_ids:
            running = await http.get(f"/runs/{run_id}", headers=user.headers)
            assert running.json()["status"] == "running"
            assert running.json()["finished_at"] is None
            assert "result" not in running.json()
            cancel = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
            assert cancel.status_code == 202
            frames = await ws.run_to_end(run_id)
            end = frames[-1]["data"]
            assert end["status"] == "cancelled"
            stored = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
            assert stored["status"] == "cancelled"
            assert stored["error"]
        again = await http.post(path, json={"message": "What is 1 + 1?"}, headers=user.headers)
        assert again.status_code == 202


async def test_someone_elses_things_are_not_found(server: Server, http: httpx.AsyncClient) -> None:
    owner, other = await new_user(http, "owner"), await new_user(http, "other")
    thread = (await http.post("/threads", headers=owner.headers)).json()
    started = await http.post(
        f"/threads/{thread['thread_id']}/runs", json={"message": "sleep"}, headers=owner.headers
    )
    run_id = started.json()["run_id"]
    theirs = [
        await http.get(f"/threads/{thread['thread_id']}", headers=other.headers),
        await http.post(
            f"/threads/{thread['thread_id']}/runs", json={"message": "hi"}, headers=other.headers
        ),
        await http.get(f"/runs/{run_id}", headers=other.headers),
        await http.post(f"/runs/{run_id}/cancel", headers=other.headers),
    ]
    missing = [
        await http.get("/threads/thr_nope", headers=other.headers),
        await http.post("/threads/thr_nope/runs", json={"message": "hi"}, headers=other.headers),
        await http.get("/runs/run_nope", headers=other.headers),
        await http.post("/runs/run_nope/cancel", headers=other.headers),
    ]
    for mine, absent in zip(theirs, missing, strict=True):
        assert_error(mine, 404, "not_found")
        assert mine.json()["error"]["message"].replace(run_id, "X").replace(
            thread["thread_id"], "X"
        ) == absent.json()["error"]["message"].replace("run_nope", "X").replace("thr_nope", "X")
    assert (await http.get("/threads", headers=other.headers)).json() == []
    assert (await http.post(f"/runs/{run_id}/cancel", headers=owner.headers)).status_code == 202


async def test_unknown_routes_and_methods(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/nope"), 404, "not_found")
    not_allowed = await http.delete("/threads")
    assert_error(not_allowed, 405, "bad_request")
    assert "GET" in not_allowed.headers["allow"]


async def test_internal_errors_leak_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with running(settings, app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            response = await client.get("/boom")
            assert_error(response, 500, "internal")
            assert "secret" not in response.text
            assert (await client.get("/health")).status_code == 200


async def test_openapi_and_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    assert "HTTPValidationError" not in response.text
    schema = response.json()
    paths = schema["paths"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in paths.values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if status[0] in "45" and status != "503":  # 503: the health body
                    assert answer["content"]["application/json"]["schema"] == error_ref
            assert "500" in operation["responses"]
    for path in (
        "/health",
        "/auth/register",
        "/auth/login",
        "/threads",
        "/threads/{thread_id}",
        "/threads/{thread_id}/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/cancel",
    ):
        assert path in paths
    assert "202" in paths["/threads/{thread_id}/runs"]["post"]["responses"]
    assert "429" in paths["/threads/{thread_id}/runs"]["post"]["responses"]
    assert (
        "application/x-www-form-urlencoded"
        in (paths["/auth/login"]["post"]["requestBody"]["content"])
    )
    page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_huge_bodies_are_too_large(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "huge")
    thread = (await http.post("/threads", headers=user.headers)).json()
    runs = f"/threads/{thread['thread_id']}/runs"
    huge = {"message": "x" * 1_100_000}  # 1.1 MB: over the body limit
    response = await http.post(runs, json=huge, headers=user.headers)
    assert_error(response, 422, "too_large")

    async def chunks(body: bytes) -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]

    encoded = json.dumps(huge).encode()
    for path in (runs, "/auth/login", "/auth/register", "/threads"):
        streamed = await http.post(
            path,
            content=chunks(encoded),
            headers={**user.headers, "Content-Type": "application/json"},
        )
        assert_error(streamed, 422, "too_large")
    # A chunked body within the limit is handed to the route as it came.
    small = json.dumps({"message": "What is 2 + 2?"}).encode()
    started = await http.post(
        runs, content=chunks(small), headers={**user.headers, "Content-Type": "application/json"}
    )
    assert started.status_code == 202, started.text
    assert (await http.get("/health")).status_code == 200


PLACEHOLDER_IDS = ["null", "None", "undefined", "%20", "%20%20", "NaN"]


@pytest.mark.parametrize("bad_id", PLACEHOLDER_IDS)
async def test_placeholder_ids_are_not_found(http: httpx.AsyncClient, bad_id: str) -> None:
    user = await new_user(http, "placeholder")
    missing_thread = await http.get("/threads/thr_missing", headers=user.headers)
    assert_error(missing_thread, 404, "not_found")
    for method, path in [
        ("POST", f"/threads/{bad_id}/runs"),
        ("GET", f"/threads/{bad_id}"),
        ("GET", f"/runs/{bad_id}"),
        ("POST", f"/runs/{bad_id}/cancel"),
    ]:
        body = {"message": "hello"} if path.endswith("/runs") else None
        response = await http.request(method, path, json=body, headers=user.headers)
        assert_error(response, 404, "not_found")
        assert response.json()["error"]["message"].endswith("; check the thread id") or (
            response.json()["error"]["message"].endswith("; check the run id")
        )
    # Nothing was stored for them.
    assert (await http.get("/threads", headers=user.headers)).json() == []


async def test_an_empty_agent_name_is_refused(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "noagent")
    thread = (await http.post("/threads", headers=user.headers)).json()
    response = await http.post(
        f"/threads/{thread['thread_id']}/runs",
        json={"message": "hello", "agent": ""},
        headers=user.headers,
    )
    assert_error(response, 422, "bad_request")
    assert "agent" in response.json()["error"]["message"]
