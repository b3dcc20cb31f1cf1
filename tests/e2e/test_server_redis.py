"""Two servers on one Redis and one database: a user's events reach their sockets on both."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from tests.e2e.conftest import (
    FRAME_TIMEOUT,
    Server,
    assert_gapless,
    events_of,
    make_settings,
    new_user,
    open_ws,
    running,
)
from tests.services import (
    POSTGRES_URL,
    REDIS_HOST,
    REDIS_PORT,
    postgres_database,
    require_service,
)

pytestmark = pytest.mark.e2e

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Servers A and B: one PostgreSQL database, the same Redis prefix (deleted afterwards)."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"goldpath-test-{secrets.token_hex(6)}:"
    try:
        with postgres_database() as database_name:
            database_url = f"{POSTGRES_URL}/{database_name}"
            settings = make_settings(
                tmp_path_factory.mktemp("goldpath"),
                database_url=database_url,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
            )
            with running(settings) as a, running(settings) as b:
                yield a, b
    finally:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
async def http(servers: tuple[Server, Server]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=servers[0].base_url, timeout=FRAME_TIMEOUT) as client:
        yield client


async def test_a_chat_on_one_server_streams_to_the_socket_on_the_other(
    servers: tuple[Server, Server], http: httpx.AsyncClient
) -> None:
    a, b = servers
    user = await new_user(http, "twoservers")
    watcher, ready_b = await open_ws(b, user)
    async with watcher.connection:
        await watcher.send({"type": "ping"})
        assert await watcher.recv() == {"type": "pong"}
        sender, ready_a = await open_ws(a, user)
        async with sender.connection:
            assert ready_a["stream"] == ready_b["stream"]  # one stream, seen from both
            accepted = await sender.chat("slow 5")
            sent = await sender.run_to_end(accepted["run_id"])
        seen = await watcher.run_to_end(accepted["run_id"])
    assert events_of(seen, accepted["run_id"]) == events_of(sent, accepted["run_id"])
    assert_gapless(seen, ready_b["stream"]["offset"])
    assert seen[-1]["data"]["status"] == "ok"


async def test_resume_on_the_other_server(
    servers: tuple[Server, Server], http: httpx.AsyncClient
) -> None:
    a, b = servers
    user = await new_user(http, "moved")
    first, ready = await open_ws(a, user)
    async with first.connection:
        accepted = await first.chat("What is 3 * 3?")
        frames = await first.run_to_end(accepted["run_id"])
    again, _ = await open_ws(b, user)
    async with again.connection:
        await again.send({"type": "resume", "epoch": ready["stream"]["epoch"], "offset": 0})
        resumed = await again.recv()
        assert resumed == {
            "type": "resumed",
            "epoch": ready["stream"]["epoch"],
            "offset": frames[-1]["offset"],
            "replayed": len(events_of(frames, accepted["run_id"])),
        }
        replayed = [await again.recv() for _ in range(resumed["replayed"])]
    assert replayed == events_of(frames, accepted["run_id"])
    for server in servers:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            health = (await client.get("/health")).json()
        assert health["checks"]["stream"] == "ok"


async def test_a_flushed_stream_tells_live_sockets_to_resync(
    servers: tuple[Server, Server], http: httpx.AsyncClient
) -> None:
    a, b = servers
    user = await new_user(http, "flushed")
    watcher, ready = await open_ws(b, user)
    async with watcher.connection:
        await watcher.send({"type": "ping"})
        assert await watcher.recv() == {"type": "pong"}
        first, _ = await open_ws(a, user)
        async with first.connection:
            accepted = await first.chat("What is 3 * 3?")
            await first.run_to_end(accepted["run_id"])
        await watcher.run_to_end(accepted["run_id"])
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        try:  # what a flushed Redis leaves of this user: nothing
            client.delete(*client.scan_iter(match=f"{a.settings.redis_prefix}user:*"))
        finally:
            client.close()
        sender, _ = await open_ws(a, user)
        async with sender.connection:
            accepted = await sender.chat("slow 5")
            sent = await sender.run_to_end(accepted["run_id"])
        frames = await watcher.run_to_end(accepted["run_id"])
    resync = frames[0]
    assert resync["type"] == "resync"
    assert resync["reason"] == "epoch_changed"
    assert resync["epoch"] != ready["stream"]["epoch"]
    after = frames[1:]
    assert_gapless(after, resync["offset"])
    assert after == [f for f in sent if f.get("offset", 0) > resync["offset"]]
