"""A hypothesis-driven fuzzer of ``/ws`` frames: random JSON, bad UTF-8, lone surrogates,
deep nesting, sizes around the frame limit, frames out of order, before and after auth.

Whatever arrives, the server never closes with 1011 and logs no failure; a connection that
was not sent an oversized frame still answers a ping; after the fuzzing a normal chat
still works. A fixed seed runs in every build, plus a few random examples."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import FRAME_TIMEOUT, Server, User, make_settings, new_user, running

pytestmark = pytest.mark.e2e

FIXED_SEED = 20261204
EXAMPLES = {"fixed": 60, "random": 10}
FRAME_LIMIT = 4096
"""The server's frame limit here: small, so sizes around it are cheap to send."""
TYPES = ["auth", "chat", "cancel", "resume", "ping", "pong", "ready", "", "CHAT"]
FIELDS = ["token", "message", "thread_id", "agent", "client_msg_id", "run_id", "epoch", "offset"]

tricky_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\x00", "a\x00b", "\udfff", "\ud800x", "null", "undefined", " ", "\ufeff"]),
    st.integers(min_value=0, max_value=FRAME_LIMIT + 8).map(lambda n: "é" * n),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=8,
)
shaped_frames = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),  # escapes surrogates as \\udfff
    st.one_of(st.sampled_from(TYPES), json_values),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
)
nested = st.sampled_from([10, 900, 5000, 30000]).map(lambda n: "[" * n + "]" * n)
sized = st.integers(min_value=FRAME_LIMIT - 40, max_value=FRAME_LIMIT + 2).map(
    lambda n: json.dumps({"type": "chat", "message": "x" * max(1, n - 30)})
)
frames: st.SearchStrategy[str | bytes] = st.one_of(
    shaped_frames, st.text(max_size=40), st.binary(max_size=40), nested, sized
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(
        tmp_path_factory.mktemp("wsfuzz"),
        max_frame_bytes=FRAME_LIMIT,
        messages_per_minute=100_000,
        max_connections_per_user=1000,
    )
    with running(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def user(server: Server) -> User:
    async def make() -> User:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            return await new_user(http, "wsfuzz")

    return asyncio.run(make())


def _size(frame: str | bytes) -> int:
    return len(frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame)


async def _exchange(server: Server, user: User, sent: list[str | bytes], authed: bool) -> None:
    headers = {"Authorization": f"Bearer {user.token}"} if authed else {}
    connection = await connect(
        server.ws_url, additional_headers=headers, max_size=None, close_timeout=1
    )
    try:
        if authed:
            ready = json.loads(await asyncio.wait_for(connection.recv(), FRAME_TIMEOUT))
            assert ready["type"] == "ready"
        for frame in sent:
            await connection.send(frame)
        await connection.send(json.dumps({"type": "ping"}))
        while True:
            answer = json.loads(await asyncio.wait_for(connection.recv(), FRAME_TIMEOUT))
            assert answer["type"] != "error" or answer["code"] != "internal", answer
            if answer["type"] == "pong":
                assert authed
                return
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
        assert code != 1011
        if any(_size(frame) > FRAME_LIMIT for frame in sent):
            # Closed with 1009; a client still sending may see the socket drop first.
            assert code in (1009, None) or (code == 4401 and not authed), code
        else:
            assert not authed, code
            assert code == 4401
    finally:
        await connection.close()


@pytest.mark.parametrize("run", sorted(EXAMPLES))
def test_no_frame_breaks_a_connection_or_the_server(
    server: Server, user: User, run: str, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(
        max_examples=EXAMPLES[run],
        deadline=None,
        database=None,
        derandomize=run == "fixed",
        suppress_health_check=list(HealthCheck),
    )
    @given(sent=st.lists(frames, min_size=1, max_size=6), authed=st.booleans())
    def exchange(sent: list[str | bytes], authed: bool) -> None:
        asyncio.run(_exchange(server, user, sent, authed))

    if run == "fixed":
        exchange = seed(FIXED_SEED)(exchange)
    with caplog.at_level(logging.WARNING, logger="goldpath"):
        exchange()
        asyncio.run(_a_chat_still_works(server, user))
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]


async def _a_chat_still_works(server: Server, user: User) -> None:
    headers = {"Authorization": f"Bearer {user.token}"}
    async with connect(server.ws_url, additional_headers=headers) as connection:
        assert json.loads(await connection.recv())["type"] == "ready"
        await connection.send(json.dumps({"type": "chat", "message": "hello after fuzzing"}))
        while True:
            frame = json.loads(await asyncio.wait_for(connection.recv(), FRAME_TIMEOUT))
            assert frame["type"] != "error" or frame["code"] == "rate_limited", frame
            if frame["type"] == "agent_completed":
                assert frame["data"]["status"] == "ok", frame
                return
