"""Caps on what one client can hold: connections per user, all connections, half-sent
requests, new threads a minute."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import Server, make_settings, new_user, open_ws, running
from tests.e2e.test_server_ws import assert_closed

pytestmark = pytest.mark.e2e


async def test_one_connection_over_the_users_cap_is_closed_with_4429(tmp_path: Path) -> None:
    with running(make_settings(tmp_path, max_connections_per_user=3)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            user = await new_user(http)
            other = await new_user(http)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(3):
                client, _ = await open_ws(srv, user)
                await stack.enter_async_context(client.connection)
            extra, _ = await open_ws(srv, user, ready=False)
            async with extra.connection:
                await assert_closed(extra, 4429)  # after authentication, before ready
            theirs, _ = await open_ws(srv, other)  # another user is not affected
            await theirs.connection.close()
        # The places come back when the connections close.
        again, _ = await open_ws(srv, user)
        await again.connection.close()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while chunk := await reader.read(4096):
        data += chunk
    return data


async def test_half_sent_requests_are_closed_after_the_header_timeout(tmp_path: Path) -> None:
    with running(make_settings(tmp_path, header_timeout_seconds=1.0)) as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
        try:
            for _, writer in streams:
                writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                await writer.drain()
            # Every one of them is closed by the server, without an answer.
            closed = await asyncio.wait_for(
                asyncio.gather(*(_read_until_closed(reader) for reader, _ in streams)), 30
            )
            assert set(closed) == {b""}
            # A request that completes its headers in time is answered as usual.
            async with httpx.AsyncClient(base_url=srv.base_url) as http:
                assert (await http.get("/health")).status_code == 200
        finally:
            for _, writer in streams:
                writer.close()


async def test_connections_over_the_global_cap_get_503(tmp_path: Path) -> None:
    with running(make_settings(tmp_path, max_connections=3)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            user = await new_user(http)
        port = int(srv.base_url.rsplit(":", 1)[1])
        ws, _ = await open_ws(srv, user)
        async with ws.connection:
            idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                answer = await asyncio.wait_for(_read_until_closed(reader), 10)
                writer.close()
                assert answer.startswith(b"HTTP/1.1 503 ")
                with pytest.raises(InvalidStatus) as refused:
                    await connect(srv.ws_url)
                assert refused.value.response.status_code == 503
            finally:
                for _, idle_writer in idle:
                    idle_writer.close()
            await ws.send({"type": "ping"})  # the connections held go on
            assert (await ws.recv())["type"] == "pong"


async def test_thread_creation_is_rate_limited(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http)
    limit = server.settings.threads_per_minute
    for _ in range(limit):
        made = await http.post("/threads", json={}, headers=user.headers)
        assert made.status_code == 201
    refused = await http.post("/threads", json={}, headers=user.headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    other = await new_user(http)
    assert (await http.post("/threads", json={}, headers=other.headers)).status_code == 201
