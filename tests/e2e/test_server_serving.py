"""The WebSocket protocol `goldpath serve` gives uvicorn: the frames an app sends in one turn
of the event loop leave in one socket write, in order, and before anything sent after them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from goldpath.server._serving import LeanWebSocketProtocol, uvicorn_options
from tests.e2e.conftest import make_settings
from tests.uvicorn_thread import serving_in_thread

pytestmark = pytest.mark.e2e

FRAMES = 5


class _RecordedTransport:
    """The connection's real transport, with each write kept for the test to read."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _App:
    """Sends ``FRAMES`` frames in a row and closes with 4000 when the client says ``go``;
    sends once more after the client said ``bye`` and closed, keeping what that raised."""

    def __init__(self) -> None:
        self.raised: list[BaseException] = []
        self.sent_too_late = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        said = (await receive())["text"]
        if said == "go":
            for number in range(FRAMES):
                await send({"type": "websocket.send", "text": f"frame {number}"})
            await send({"type": "websocket.close", "code": 4000})
            return
        assert (await receive())["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            self.raised.append(exc)
        self.sent_too_late.set()


@contextmanager
def _serving(tmp_path: Path, app: _App, writes: list[bytes]) -> Iterator[str]:
    class Recorded(LeanWebSocketProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.transport = _RecordedTransport(transport, writes)  # type: ignore[assignment]

    options = {**uvicorn_options(make_settings(tmp_path)), "ws": Recorded, "log_level": "warning"}
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", **options)
    with serving_in_thread(config, "goldpath-test-serving") as port:
        yield f"ws://127.0.0.1:{port}/"


def test_goldpath_serve_uses_its_own_websocket_protocol(tmp_path: Path) -> None:
    assert uvicorn_options(make_settings(tmp_path))["ws"] is LeanWebSocketProtocol


async def test_frames_sent_in_one_turn_leave_in_one_write_then_the_close(
    tmp_path: Path,
) -> None:
    writes: list[bytes] = []
    with _serving(tmp_path, _App(), writes) as url:
        async with connect(url) as ws:
            await ws.send("go")
            received = [await ws.recv() for _ in range(FRAMES)]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
    assert received == [f"frame {number}" for number in range(FRAMES)]
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4000
    with_frames = [data for data in writes if b"frame " in data]
    assert len(with_frames) == 1  # uvicorn's own protocol writes each frame on its own
    assert [with_frames[0].find(f"frame {n}".encode()) for n in range(FRAMES)] == sorted(
        with_frames[0].find(f"frame {n}".encode()) for n in range(FRAMES)
    )
    assert writes.index(with_frames[0]) < len(writes) - 1  # the close frame came after


async def test_a_send_after_the_client_left_raises(tmp_path: Path) -> None:
    app = _App()
    with _serving(tmp_path, app, []) as url:
        async with connect(url) as ws:
            await ws.send("bye")
        assert await asyncio.to_thread(app.sent_too_late.wait, 10)
    assert len(app.raised) == 1
