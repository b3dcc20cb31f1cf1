"""How uvicorn serves the app: the options `goldpath serve` (and the tests) give it, the
connection guard uvicorn does not offer (a header-read timeout and a connection cap), and
its WebSocket protocol made lighter to hold open by the thousand and to send on."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from goldpath.server._flag import Flag
from goldpath.server._outbox import Outbox
from goldpath.server._settings import Settings

__all__ = ["GuardedHttpProtocol", "LeanWebSocketProtocol", "uvicorn_options"]

_SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
    b"content-length: 37\r\nconnection: close\r\n\r\nthe server has too many connections.\n"
)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus two guards uvicorn has no setting for.

    - **Header-read timeout.** uvicorn times out idle keep-alive connections, but not a
      request whose headers never end: a client sending a byte now and then (slowloris)
      holds its connection for good. Here the headers of each request must be complete
      within ``header_timeout`` seconds of the connection (or of the request's first byte),
      or the connection is closed.
    - **Connection cap.** ``limit_concurrency`` answers HTTP requests with 503 but lets
      WebSocket upgrades and idle sockets through. Here a connection beyond
      ``max_connections`` (HTTP and WebSocket together) is answered 503 and closed at once.
    """

    def __init__(self, *args: Any, header_timeout: float, max_connections: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._max_connections = max_connections
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            transport.write(_SERVICE_UNAVAILABLE)
            transport.close()
            return
        self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._wait_for_headers()

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def _wait_for_headers(self) -> None:
        self._stop_waiting()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        self.transport.close()


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets, sans-I/O), holding less per open connection
    and writing less often.

    - Its queue of received messages is an `Outbox` (one reader: the app's ``receive``)
      instead of an `asyncio.Queue`, which carries three deques and an event; its
      ``writable`` event (the transport's flow control) is a `Flag`, which has no deque.
    - Once the handshake is answered, it drops the handshake's request and response (their
      headers), which uvicorn keeps but reads only while answering it.
    - The frames the app sends in one turn of the event loop leave in one socket write,
      where uvicorn makes a system call per frame: a run's events reach a connection a burst
      at a time, so a chat's 11 frames take 3 writes. Each frame is framed at once, in
      order (a send on a closed connection still raises at once); one callback the loop
      runs next writes them. Anything else written on the connection (the app's close, a
      pong, uvicorn's own close) takes the frames before it first: the websockets protocol
      object keeps every outgoing byte in one ordered buffer.

    Together about 6 KiB less per idle connection, and ~0.1 ms less CPU per chat
    (docs/benchmarks.md).
    """

    _flush_due = False  # a write of the frames sent this turn is scheduled

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Outbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def start_keepalive(self) -> None:
        # Called once, right after the handshake's response is written.
        super().start_keepalive()
        self.request = self.response = None  # type: ignore[assignment]

    async def send(self, message: Any) -> None:  # an ASGI send event
        if (
            message["type"] != "websocket.send"
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
        ):
            self._flush()
            await super().send(message)
            return
        await self.writable.wait()  # the transport's flow control, as uvicorn's own send
        if self.disconnected:
            raise ClientDisconnected()
        try:
            if (data := message.get("bytes")) is not None:
                self.conn.send_binary(data)
            elif (text := message.get("text")) is not None:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        if not self._flush_due:
            self._flush_due = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        output = self.conn.data_to_send()
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` (besides the app, host and port).

    Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from
    ``GOLDPATH_TRUSTED_PROXIES``; with none (the default) they are ignored, so the client
    address the limits count is the socket's peer. uvicorn's access log is off: the app
    writes its own (`AccessLogMiddleware`), without query strings. The HTTP protocol is
    `GuardedHttpProtocol` (a partial: it must pickle for ``--reload``'s worker process).
    """
    trusted = settings.trusted_proxies
    return {
        "http": partial(
            GuardedHttpProtocol,
            header_timeout=settings.header_timeout_seconds,
            max_connections=settings.max_connections,
        ),
        "ws": LeanWebSocketProtocol,
        "ws_max_size": settings.max_frame_bytes,
        # Frames are small JSON; compressing each cost a browser's connection ~15% more
        # server CPU per chat and ~40 KiB of RSS (bench/server_load.py), for little saved.
        "ws_per_message_deflate": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
        "access_log": False,
        "log_level": settings.log_level,
    }
