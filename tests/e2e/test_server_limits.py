"""The configurable limits, set low: messages per minute, run length, history, failed logins."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from goldpath import InMemoryStreamHub, StreamError, __version__
from goldpath.cluster import INTERRUPTED
from goldpath.store import Store
from tests.e2e.conftest import FRAME_TIMEOUT, Server, make_settings, new_user, open_ws, running

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(
        tmp_path_factory.mktemp("limits"),
        messages_per_minute=3,
        run_timeout=0.5,
        history_events=3,
        history_seconds=0.001,
    )
    with running(settings) as srv:
        yield srv


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=FRAME_TIMEOUT) as client:
        yield client


async def test_messages_per_minute_shared_by_http_and_ws(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "chatty")
    client, _ = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("What is 1 + 1?")
        await client.run_to_end(accepted["run_id"])
        started = await http.post(
            f"/threads/{accepted['thread_id']}/runs",
            json={"message": "What is 2 + 2?"},
            headers=user.headers,
        )
        assert started.status_code == 202
        await client.run_to_end(started.json()["run_id"])
        accepted = await client.chat("What is 3 + 3?")
        await client.run_to_end(accepted["run_id"])
        await client.send({"type": "chat", "message": "one more", "client_msg_id": "m4"})
        refused = await client.recv()
        assert refused["type"] == "error"
        assert refused["code"] == "rate_limited"
        assert refused["ref"] == "m4"
        over_http = await http.post(
            f"/threads/{accepted['thread_id']}/runs", json={"message": "x"}, headers=user.headers
        )
        assert over_http.status_code == 429
        assert over_http.json()["error"]["code"] == "rate_limited"
        assert 0 < int(over_http.headers["Retry-After"]) <= 60
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}
    # Another user is not limited by this one.
    fresh = await new_user(http, "quiet")
    other, _ = await open_ws(server, fresh)
    async with other.connection:
        accepted = await other.chat("What is 4 + 4?")
        await other.run_to_end(accepted["run_id"])


async def test_run_timeout(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "timeout")
    client, _ = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("sleep")
        frames = await client.run_to_end(accepted["run_id"])
    types = [f["type"] for f in frames]
    assert types == ["agent_started", "agent_thinking", "agent_completed"]
    end = frames[-1]["data"]
    assert end["status"] == "timeout"
    assert "result" not in end
    assert end["error"]
    run = (await http.get(f"/runs/{accepted['run_id']}", headers=user.headers)).json()
    assert run["status"] == "timeout"
    assert run["error"] == end["error"]


async def test_history_expired_resync(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http, "forgotten")
    client, ready = await open_ws(server, user)
    epoch = ready["stream"]["epoch"]
    async with client.connection:
        accepted = await client.chat("slow 12")
        # The run is in flight: its events are not stored yet, and the stream keeps 3.
        frames = await client.until(
            lambda f: f.get("type") == "message_delta" and f["data"]["delta"] == "5 "
        )
        again, _ = await open_ws(server, user)
        async with again.connection:
            await again.send({"type": "resume", "epoch": epoch, "offset": 0})
            resync = await again.recv()
        await client.run_to_end(accepted["run_id"])
    assert len(frames) > 3
    assert resync["type"] == "resync"
    assert (resync["reason"], resync["epoch"]) == ("history_expired", epoch)
    assert resync["offset"] >= frames[-1]["offset"]


async def test_what_the_history_dropped_is_replayed_from_the_stored_events(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "remembered")
    client, ready = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("What is 9 * 9?")
        frames = await client.run_to_end(accepted["run_id"])
    assert len(frames) > 4  # run_accepted and more events than the stream keeps (3)
    again, _ = await open_ws(server, user)
    async with again.connection:
        await again.send({"type": "resume", "epoch": ready["stream"]["epoch"], "offset": 0})
        resumed = await again.recv()
        replayed = [await again.recv() for _ in range(resumed["replayed"])]
    assert resumed["type"] == "resumed"
    assert replayed == [f for f in frames if "offset" in f]


async def test_a_locked_address_is_refused_even_the_right_password(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_failures_per_address=3)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            user = await new_user(client, "addr")
            for name in ("someone", "someone_else", "a_third"):
                failed = await client.post(
                    "/auth/login", json={"username": name, "password": "wrong-password"}
                )
                assert failed.status_code == 401
            # The address is at its limit: every attempt from it gets 429, unhashed.
            for password in ("wrong-password", user.password):
                limited = await client.post(
                    "/auth/login", json={"username": user.username, "password": password}
                )
                assert limited.status_code == 429
                assert limited.json()["error"]["code"] == "rate_limited"
                assert int(limited.headers["Retry-After"]) > 0
        async with httpx.AsyncClient(base_url=srv.base_url, transport=_from("127.0.0.2")) as other:
            right = {"username": user.username, "password": user.password}
            login = await other.post("/auth/login", json=right)
            assert login.status_code == 200, login.text
            assert (await other.get("/health")).status_code == 200


def _from(address: str) -> httpx.AsyncHTTPTransport:
    """Requests from another loopback address: another client address to the server."""
    return httpx.AsyncHTTPTransport(local_address=address)


async def test_an_attacked_account_locks_the_attacker_not_the_owner(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_failures_per_account=2, login_slowdown_seconds=0.1)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            user = await new_user(client, "locked")
        async with httpx.AsyncClient(base_url=srv.base_url, transport=_from("127.0.0.2")) as bad:
            wrong = {"username": user.username.upper(), "password": "wrong-password"}
            assert (await bad.post("/auth/login", json=wrong)).status_code == 401
            assert (await bad.post("/auth/login", json=wrong)).status_code == 401
            right = {"username": user.username, "password": user.password}
            limited = await bad.post("/auth/login", json=right)
            assert limited.status_code == 429  # the (account, address) pair is locked
            assert int(limited.headers["Retry-After"]) > 0
        async with httpx.AsyncClient(base_url=srv.base_url, transport=_from("127.0.0.3")) as owner:
            login = await owner.post("/auth/login", json=right)
            assert login.status_code == 200, login.text  # slowed down, not locked


async def test_a_login_flood_from_one_address_does_not_starve_another(tmp_path: Path) -> None:
    # Hashing costly enough (~0.1 s) that 30 queued verifications would take seconds.
    settings = make_settings(tmp_path, password_hash_time_cost=4, password_hash_memory_kib=16384)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=FRAME_TIMEOUT) as client:
            user = await new_user(client, "victim")
            attempts = 0
            flooding = asyncio.Event()
            stop = asyncio.Event()

            async def flood(attacker: httpx.AsyncClient) -> None:
                nonlocal attempts
                while not stop.is_set():
                    made_up = {"username": f"x{uuid.uuid4().hex[:8]}", "password": "wrong"}
                    await attacker.post("/auth/login", json=made_up)
                    attempts += 1
                    if attempts >= 30:
                        flooding.set()

            limits = httpx.Limits(max_connections=30)
            async with httpx.AsyncClient(
                base_url=srv.base_url,
                transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2", limits=limits),
                timeout=60,
            ) as attacker:
                loops = [asyncio.create_task(flood(attacker)) for _ in range(30)]
                try:
                    await asyncio.wait_for(flooding.wait(), 60)
                    started = time.monotonic()
                    right = {"username": user.username, "password": user.password}
                    login = await client.post("/auth/login", json=right)
                    took = time.monotonic() - started
                finally:
                    stop.set()
                    await asyncio.gather(*loops)
    assert login.status_code == 200, login.text
    assert took < 1.0, f"a correct login took {took:.2f} s during the flood"


async def test_the_handler_enforces_the_frame_limit_under_any_server(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_frame_bytes=4096)
    with running(settings, ws_max_size=1 << 20) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            user = await new_user(client, "bigframe")
        ws, _ = await open_ws(srv, user)
        async with ws.connection:
            await ws.send({"type": "chat", "message": "é" * 2100})  # 4,200+ bytes, 2,100 chars
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
        ws, _ = await open_ws(srv, user)
        async with ws.connection:
            await ws.send({"type": "ping", "pad": "x" * 3000})
            assert await ws.recv() == {"type": "pong"}


class BrokenHub(InMemoryStreamHub):
    async def check(self) -> None:
        raise StreamError("the stream backend is unreachable")


async def test_health_degraded(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with running(settings) as srv:
        state = srv.app.state.goldpath
        srv.app.state.goldpath = dataclasses.replace(state, hub=BrokenHub())
        try:
            async with httpx.AsyncClient(base_url=srv.base_url) as client:
                response = await client.get("/health")
        finally:
            srv.app.state.goldpath = state
        assert response.status_code == 503
        assert response.json() == {
            "status": "degraded",
            "version": __version__,
            "checks": {"store": "ok", "stream": "unavailable; the details are in the server's log"},
        }


async def test_health_checks_the_schema_and_tells_clients_no_details(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert (await client.get("/health")).status_code == 200
            database = sqlite3.connect(tmp_path / "goldpath.db")
            database.execute("DROP TABLE messages")
            database.commit()
            database.close()
            with caplog.at_level(logging.ERROR, logger="goldpath.server"):
                response = await client.get("/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["store"] == "unavailable; the details are in the server's log"
    assert "goldpath.db" not in response.text
    logged = [r for r in caplog.records if "health check" in r.getMessage()]
    assert logged
    assert "messages" in logged[0].getMessage()


async def test_restart_finishes_interrupted_runs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            user = await new_user(client, "restart")
            thread = (await client.post("/threads", headers=user.headers)).json()
            started = await client.post(
                f"/threads/{thread['thread_id']}/runs",
                json={"message": "sleep"},
                headers=user.headers,
            )
            run_id = started.json()["run_id"]
    # Shutdown cancelled the run and stored its end.
    store = await Store.open(f"sqlite:///{tmp_path / 'goldpath.db'}")
    try:
        assert (await store.get_run(user.user_id, run_id)).status == "cancelled"
        # A run left running by a crashed process ends as error at the next start (one
        # process on SQLite: its lease has not run out, but nobody else can hold it).
        await store.start_run(user.user_id, thread["thread_id"], "run_crashed", "supervisor", "x")
    finally:
        await store.close()
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            login = await client.post(
                "/auth/login", json={"username": user.username, "password": user.password}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            run = (await client.get("/runs/run_crashed", headers=headers)).json()
            assert run["status"] == "error"
            assert run["error"] == INTERRUPTED


async def test_parallel_wrong_logins_cannot_outrun_the_account_limit(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        login_failures_per_account=5,
        login_failures_per_address=1000,
        password_hash_memory_kib=8192,
    )
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=FRAME_TIMEOUT) as client:
            user = await new_user(client, "parallel")
            wrong = {"username": user.username, "password": "wrong-password"}
            answers = await asyncio.gather(
                *(client.post("/auth/login", json=wrong) for _ in range(40))
            )
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) <= 5
    assert statuses.count(429) == 40 - statuses.count(401)
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "rate_limited"
            assert int(answer.headers["Retry-After"]) > 0


async def test_placeholder_thread_ids_spend_no_message_budget(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "budget")
    for bad_id in ("null", "undefined", "None", "%20", "nil"):
        refused = await http.post(
            f"/threads/{bad_id}/runs", json={"message": "hi"}, headers=user.headers
        )
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
    thread = (await http.post("/threads", headers=user.headers)).json()
    for _ in range(3):  # the whole budget of 3 a minute is still there
        started = await http.post(
            f"/threads/{thread['thread_id']}/runs", json={"message": "hi"}, headers=user.headers
        )
        assert started.status_code == 202, started.text


async def test_registrations_per_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, registrations_per_address=3)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            user = await new_user(client, "first")
            taken = await client.post(
                "/auth/register", json={"username": user.username, "password": "x" * 12}
            )
            assert taken.status_code == 409  # it hashed a password: it counts
            await new_user(client, "third")
            limited = await client.post(
                "/auth/register", json={"username": "fourth_user", "password": "x" * 12}
            )
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert 0 < int(limited.headers["Retry-After"]) <= 3600
            invalid = await client.post("/auth/register", json={"username": "x", "password": "y"})
            assert invalid.status_code == 422  # refused before the limit is consulted
            login = await client.post(
                "/auth/login", json={"username": user.username, "password": user.password}
            )
            assert login.status_code == 200
