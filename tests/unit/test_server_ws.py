"""A `/ws` connection's delivery rules, with a socket whose client reads when told to."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from goldpath import AgentStarted, InMemoryStreamHub
from goldpath.server._handshake import origin_allowed
from goldpath.server._metrics import Metrics
from goldpath.server._state import AppState
from goldpath.server.ws import OUTBOUND_LIMIT, Connection

pytestmark = pytest.mark.unit

STARTED = AgentStarted("x")


class FakeSocket:
    """Frames in from a queue; frames out into a list the test waits on."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()
        self.app = SimpleNamespace(state=SimpleNamespace(metrics=Metrics()))  # metrics off

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        async with self.arrived:
            self.sent.append(json.loads(text))
            self.arrived.notify_all()

    def client_sends(self, frame: dict[str, Any]) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        return await self.wait_until(lambda sent: len(sent) >= count)

    async def wait_until(self, done: Any) -> list[dict[str, Any]]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: done(self.sent)), 5)
        return self.sent

    def disconnect(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})


class StalledSocket(FakeSocket):
    """A client that stops reading: each send waits until the test opens the gate."""

    def __init__(self, hold_after: int | None = None) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.hold_after = hold_after

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        await super().send_text(text)
        if len(self.sent) == self.hold_after:
            self.gate.clear()


def _serve(socket: FakeSocket, hub: InMemoryStreamHub, user_id: str) -> Any:
    state = SimpleNamespace(settings=SimpleNamespace(max_frame_bytes=65536), hub=hub, store=None)
    connection = Connection(cast(Any, socket), cast(AppState, state), user_id)
    return connection, asyncio.create_task(connection.serve())


async def _append(stream: Any, count: int) -> None:
    for _ in range(count):
        await stream.append("run_1", "thr_1", "supervisor", "2026-01-01T00:00:00Z", STARTED)
        await asyncio.sleep(0)  # a turn of the loop: the pump moves the event to the queue


async def test_a_slow_connection_is_told_to_resync_and_goes_on() -> None:
    hub = InMemoryStreamHub(queue_limit=5)
    stream = hub.for_user("usr_slow")
    state = SimpleNamespace(settings=SimpleNamespace(max_frame_bytes=65536), hub=hub, store=None)
    socket = FakeSocket()
    connection = Connection(cast(Any, socket), cast(AppState, state), "usr_slow")
    serving = asyncio.create_task(connection.serve())
    socket.client_sends({"type": "ping"})
    frames = await socket.wait_for(2)
    assert frames[0]["type"] == "ready"
    assert frames[1] == {"type": "pong"}
    # Ten events with no suspension between them: the connection cannot drain its
    # subscription (5 events), which the stream then drops as too slow.
    for _ in range(10):
        await stream.append("run_1", "thr_1", "supervisor", "2026-01-01T00:00:00Z", STARTED)
    frames = await socket.wait_for(3)
    assert frames[2] == {
        "type": "resync",
        "reason": "too_slow",
        "epoch": stream.epoch,
        "offset": 10,
    }
    await stream.append("run_1", "thr_1", "supervisor", "2026-01-01T00:00:01Z", STARTED)
    frames = await socket.wait_for(4)
    assert frames[3]["offset"] == 11
    socket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(serving, 5)
    assert stream.subscriber_count == 0


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "a.example", [], True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", [], False),
        ("http://evil.example:8000", "127.0.0.1:8000", [], False),
        ("https://chat.example", "chat.example", [], True),
        ("https://chat.example:443", "chat.example", [], True),
        ("http://chat.example", "chat.example", [], True),
        ("https://chat.example:8443", "chat.example", [], False),
        ("https://chat.example", "chat.example:8443", [], False),
        ("null", "chat.example", [], False),
        ("file://", "chat.example", [], False),
        ("https://app.example/", "api.example", ["https://app.example"], True),
        ("https://APP.example", "api.example", ["https://app.example"], True),
        ("http://api.example", "api.example", ["https://app.example"], False),
        ("https://any.example", "api.example", ["*"], True),
    ],
)
def test_origins(origin: str | None, host: str, allowed: list[str], ok: bool) -> None:
    headers = {"host": host} | ({"origin": origin} if origin is not None else {})
    socket = SimpleNamespace(headers=headers)
    assert origin_allowed(cast(Any, socket), allowed) is ok


async def test_a_stalled_connection_gets_one_resync_and_a_bounded_queue() -> None:
    hub = InMemoryStreamHub()
    stream = hub.for_user("usr_stalled")
    socket = StalledSocket()
    connection, serving = _serve(socket, hub, "usr_stalled")
    socket.client_sends({"type": "ping"})
    assert [f["type"] for f in await socket.wait_for(2)] == ["ready", "pong"]
    socket.gate.clear()  # the client stops reading
    most = 0
    for _ in range(3 * OUTBOUND_LIMIT):
        await _append(stream, 1)
        most = max(most, connection._outbound.qsize())
    assert most <= OUTBOUND_LIMIT
    assert stream.subscriber_count == 0  # nothing more is kept for it meanwhile
    socket.gate.set()  # the client reads again
    frames = await socket.wait_until(lambda sent: sent[-1]["type"] == "resync")
    resync = frames[-1]
    assert resync == {
        "type": "resync",
        "reason": "too_slow",
        "epoch": stream.epoch,
        "offset": 3 * OUTBOUND_LIMIT,
    }
    delivered = [f["offset"] for f in frames[2:-1]]
    assert delivered == list(range(1, len(delivered) + 1))
    assert len(delivered) <= OUTBOUND_LIMIT + 1  # the queue and the one being sent
    await _append(stream, 2)
    frames = await socket.wait_until(lambda sent: sent[-1].get("offset") == resync["offset"] + 2)
    after = frames[frames.index(resync) + 1 :]
    assert [f["offset"] for f in after] == [resync["offset"] + 1, resync["offset"] + 2]
    assert [f["type"] for f in frames].count("resync") == 1
    socket.disconnect()
    await asyncio.wait_for(serving, 5)
    assert stream.subscriber_count == 0


async def test_a_long_replay_is_not_mistaken_for_a_slow_connection() -> None:
    hub = InMemoryStreamHub(history_events=2000)
    stream = hub.for_user("usr_back")
    await _append(stream, 1500)
    socket = StalledSocket(hold_after=2)  # the client reads ready and resumed, then waits
    _, serving = _serve(socket, hub, "usr_back")
    await socket.wait_for(1)
    socket.client_sends({"type": "resume", "epoch": stream.epoch, "offset": 200})
    frames = await socket.wait_for(2)
    assert frames[1] == {"type": "resumed", "epoch": stream.epoch, "offset": 1500, "replayed": 1300}
    await _append(stream, 1)  # a live event while the whole replay is still queued
    socket.gate.set()
    frames = await socket.wait_until(lambda sent: sent[-1].get("offset") == 1501)
    assert [f["type"] for f in frames].count("resync") == 0
    assert [f["offset"] for f in frames[2:]] == list(range(201, 1502))
    socket.disconnect()
    await asyncio.wait_for(serving, 5)


class BrokenSocket(FakeSocket):
    """Every send fails; closing tells the reader the connection is gone."""

    def __init__(self) -> None:
        super().__init__()
        self.closed: list[int] = []

    async def send_text(self, text: str) -> None:
        raise RuntimeError("the transport is broken")

    async def close(self, code: int = 1000) -> None:
        self.closed.append(code)
        self.disconnect()


async def test_a_dying_writer_is_logged_with_its_user(caplog: pytest.LogCaptureFixture) -> None:
    hub = InMemoryStreamHub()
    socket = BrokenSocket()
    with caplog.at_level(logging.ERROR, logger="goldpath.server.ws"):
        _, serving = _serve(socket, hub, "usr_broken")
        await asyncio.wait_for(serving, 5)  # the writer's failure closes the connection
    assert socket.closed == [1011]
    failures = [r for r in caplog.records if "writer failed" in r.getMessage()]
    assert len(failures) == 1
    assert getattr(failures[0], "user_id", None) == "usr_broken"
    assert failures[0].exc_info is not None
    assert "the transport is broken" in failures[0].getMessage()


async def test_a_pong_does_not_overtake_a_due_resync() -> None:
    hub = InMemoryStreamHub()
    stream = hub.for_user("usr_silent")
    socket = StalledSocket()
    _, serving = _serve(socket, hub, "usr_silent")
    socket.client_sends({"type": "ping"})
    assert [f["type"] for f in await socket.wait_for(2)] == ["ready", "pong"]
    socket.gate.clear()  # the client stays silent past the outbound limit
    await _append(stream, OUTBOUND_LIMIT + 10)
    socket.client_sends({"type": "ping"})
    await asyncio.sleep(0.05)  # the reader answers the ping while the connection is behind
    socket.gate.set()
    frames = await socket.wait_until(lambda sent: [f["type"] for f in sent].count("pong") == 2)
    kinds = [f["type"] for f in frames[2:] if f["type"] != "agent_started"]
    assert kinds == ["resync", "pong"]
    socket.disconnect()
    await asyncio.wait_for(serving, 5)
