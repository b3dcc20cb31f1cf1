"""``/ws``: one authenticated user's stream, live, resumable, and the chat frames that start runs.

Each connection has one writer task and one outbound queue, so frames leave in the order
they were queued. Events reach the queue from the user's `Subscription`, moved either by
the pump task as they arrive or by the reader just before it queues an answer: so an
answer (``pong``, ``run_accepted``, ``error``) always follows every event that had reached
the connection when its frame was read, and ``run_accepted`` precedes the run's events.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from goldpath.context import new_id
from goldpath.errors import SubscriptionClosedError
from goldpath.events import Event
from goldpath.server._errors import ErrorCode, classify
from goldpath.server._frames import (
    AnyFrame,
    ApproveFrame,
    CancelFrame,
    ChatFrame,
    FrameError,
    PingFrame,
    ResumeFrame,
    encode,
    parse_frame,
)
from goldpath.server._handshake import (
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_TOO_LARGE,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    authenticate,
    close,
    origin_allowed,
    text_of,
    too_large,
)
from goldpath.server._metrics import metrics_of
from goldpath.server._outbox import Outbox
from goldpath.server._replay import read_after
from goldpath.server._state import AppState, app_state
from goldpath.stream import Replay, Subscription, UserStream

__all__ = ["OUTBOUND_LIMIT", "OUTBOUND_LOW_WATER", "Connection", "WebSocketEntry"]

logger = logging.getLogger("goldpath.server.ws")

OUTBOUND_LIMIT = 1000
"""Frames queued for one slow connection before it is told ``resync`` (``too_slow``)."""
OUTBOUND_LOW_WATER = 100
"""A connection that fell behind takes live events again once its queue is down to this."""

PATH = "/ws"


class WebSocketEntry:
    """Serves ``/ws`` in front of the HTTP middleware and FastAPI's routing, as the app's
    outermost middleware of its own.

    Each layer a connection passes keeps a suspended frame for as long as the socket is
    open, and the layers under this one have nothing to do for ``/ws`` (the HTTP middleware
    passes WebSockets through; the endpoint needs no dependency injection and handles its
    own errors): skipping them saves ~12 KiB per idle connection (docs/benchmarks.md).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == scope.get("root_path", "") + PATH:
            await websocket_endpoint(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


async def websocket_endpoint(websocket: WebSocket) -> None:
    state = app_state(websocket)
    if not origin_allowed(websocket, state.settings.allowed_origins):
        # Closing before accepting refuses the upgrade: the client gets HTTP 403.
        await websocket.close(code=CLOSE_POLICY)
        return
    await websocket.accept()
    user_id = await authenticate(websocket, state)
    if user_id is None:
        await close(websocket, CLOSE_UNAUTHORIZED)
        return
    if user_id == "":  # the auth frame was too large
        await close(websocket, CLOSE_TOO_LARGE)
        return
    if not state.caps.connect(user_id):
        metrics_of(websocket).limited("connections_per_user")
        await close(websocket, CLOSE_TOO_MANY)
        return
    try:
        await Connection(websocket, state, user_id).serve()
    finally:
        state.caps.disconnect(user_id)


class Connection:
    """One authenticated WebSocket: its subscription, its outbound queue, its writer."""

    __slots__ = (
        "_behind",
        "_drained",
        "_held",
        "_last",
        "_live",
        "_outbound",
        "_pump",
        "_resubscribing",
        "_state",
        "_stream",
        "_sub",
        "_user_id",
        "_websocket",
        "id",
    )

    def __init__(self, websocket: WebSocket, state: AppState, user_id: str) -> None:
        self.id = new_id("conn")
        self._websocket = websocket
        self._state = state
        self._user_id = user_id
        self._stream: UserStream = state.hub.for_user(user_id)
        self._sub: Subscription  # made by `serve`: subscribing may ask a shared backend
        self._last = 0  # the newest offset queued on this connection
        self._live = False
        self._resubscribing = asyncio.Lock()
        # Encoded frames, and a resume's replay as one item: the replay is sent in full,
        # in order, and does not count against the live back-pressure limit.
        self._outbound: Outbox[str | tuple[Event, ...]] = Outbox()
        self._pump: asyncio.Task[None] | None = None
        self._behind = False  # fell behind: live events are dropped until the queue drains
        self._drained: asyncio.Event | None = None  # made when it falls behind: most never do
        self._held: list[dict[str, Any]] = []  # answers held back, while behind, for the resync

    def _log(self) -> dict[str, str]:
        return {"user_id": self._user_id, "connection_id": self.id}

    async def serve(self) -> None:
        try:
            # Subscribed before ``ready`` is sent, so no event after its offset is missed.
            self._sub = await self._stream.subscribe()
        except Exception:
            logger.exception("could not subscribe to the user's stream", extra=self._log())
            await close(self._websocket, CLOSE_INTERNAL)
            return
        self._last = self._sub.offset
        writer = asyncio.create_task(self._write())
        self._send(
            {
                "type": "ready",
                "user_id": self._user_id,
                "connection_id": self.id,
                "stream": {"epoch": self._sub.epoch, "offset": self._last},
            }
        )
        logger.info("connection ready", extra=self._log())
        metrics_of(self._websocket).connection_opened()
        try:
            await self._read()
        except WebSocketDisconnect:
            pass
        except Exception:
            logger.exception("connection failed", extra=self._log())
            await close(self._websocket, CLOSE_INTERNAL)
        finally:
            tasks = [task for task in (self._pump, writer) if task is not None]
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for task, result in zip(tasks, results, strict=True):
                if isinstance(result, Exception):
                    name = "writer" if task is writer else "event pump"
                    logger.error(
                        "connection %s failed: %s", name, result, exc_info=result, extra=self._log()
                    )
            self._sub.close()
            metrics_of(self._websocket).connection_closed()
            logger.info("connection closed", extra=self._log())

    # sending

    def _send(self, frame: dict[str, Any]) -> None:
        self._outbound.put_nowait(encode(frame))

    async def _write(self) -> None:
        try:
            await self._write_frames()
        except Exception as exc:
            if self._closed_already(exc):
                return  # a frame too large or broken: the connection is over, nothing failed
            # Nothing more can reach the client: close, so the reader ends too (the
            # exception is logged when the connection is torn down).
            await close(self._websocket, CLOSE_INTERNAL)
            raise

    def _closed_already(self, exc: Exception) -> bool:
        """Whether the close was already sent, so sending could only fail: by the reader
        (the app's state says so), or by uvicorn itself, which closes a connection whose
        frame is over its size limit or broken and then refuses sends with this message."""
        state = getattr(self._websocket, "application_state", None)
        return state is WebSocketState.DISCONNECTED or (
            isinstance(exc, RuntimeError) and "after sending 'websocket.close'" in str(exc)
        )

    async def _write_frames(self) -> None:
        websocket, outbound = self._websocket, self._outbound
        while True:
            item = await outbound.get()
            if isinstance(item, str):
                await websocket.send_text(item)
            else:
                for event in item:
                    await websocket.send_text(event.json)
            if self._behind and outbound.qsize() <= OUTBOUND_LOW_WATER:
                assert self._drained is not None  # made by _fall_behind
                self._drained.set()

    def _event(self, event: Event) -> None:
        if event.offset <= self._last:
            return  # already sent by the replay
        if self._outbound.qsize() >= OUTBOUND_LIMIT:
            self._fall_behind()
            return
        self._last = event.offset
        self._outbound.put_nowait(event.json)

    def _fall_behind(self) -> None:
        """Stop taking live events until the writer has drained the queue to the low-water
        mark; the pump then resubscribes once and queues the one ``resync`` (``too_slow``)."""
        if self._behind:
            return
        self._behind = True
        self._sub.close("too_slow")  # the stream keeps nothing more for this connection
        self._drained = asyncio.Event()
        if self._outbound.qsize() <= OUTBOUND_LOW_WATER:
            self._drained.set()
        logger.warning("connection fell behind; dropping live events", extra=self._log())

    async def _flush(self) -> None:
        """Queue every event that has reached this connection; never suspends."""
        if not self._live:
            return
        sub = self._sub
        while sub.pending():
            self._event(await sub.get())  # returns at once: the buffer is not empty

    async def _reply(self, frame: dict[str, Any]) -> None:
        """Queue an answer after every event that reached the connection; while it is behind,
        after the ``resync`` that is due, so no answer overtakes it."""
        await self._flush()
        if self._behind:
            self._held.append(frame)
        else:
            self._send(frame)

    async def _error(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        frame = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["ref"] = ref
        await self._reply(frame)

    async def _resubscribe(self, old: Subscription, reason: str) -> None:
        """Drop ``old``, start a new subscription at the newest offset, tell the client.

        Subscribing may suspend (a shared backend); the lock makes a second caller that
        found ``old`` dropped see the replacement and do nothing, so the client is told once.
        """
        async with self._resubscribing:
            if old is not self._sub:
                return
            old.close(reason)
            sub = self._sub = await self._stream.subscribe()
            self._last = sub.offset
            self._behind = False
            self._send(
                {"type": "resync", "reason": reason, "epoch": sub.epoch, "offset": sub.offset}
            )
            for frame in self._held:
                self._send(frame)
            self._held.clear()
            logger.warning("connection resynced (%s)", reason, extra=self._log())
            metrics_of(self._websocket).resynced(reason)

    async def _pump_events(self) -> None:
        try:
            while True:
                if self._behind:
                    # One resync, once the writer has caught up; nothing queued meanwhile.
                    assert self._drained is not None  # made by _fall_behind
                    await self._drained.wait()
                    await self._resubscribe(self._sub, "too_slow")
                    continue
                sub = self._sub
                try:
                    event = await sub.get()
                except SubscriptionClosedError as exc:
                    if sub is self._sub and not self._behind:
                        if exc.reason == "closed":
                            return
                        if exc.reason == "too_slow":
                            self._fall_behind()  # the stream dropped it: the same way back
                        else:
                            await self._resubscribe(sub, exc.reason)
                    continue
                self._event(event)
        except Exception:  # the stream backend failed: the client reconnects and resumes
            logger.exception("event delivery failed", extra=self._log())
            await close(self._websocket, CLOSE_INTERNAL)

    # reading

    async def _read(self) -> None:
        websocket, limit = self._websocket, self._state.settings.max_frame_bytes
        while True:
            message = await websocket.receive()
            text = text_of(message)
            if text is None:
                return
            if too_large(text, limit):
                await close(websocket, CLOSE_TOO_LARGE)
                return
            try:
                frame = parse_frame(text)
            except FrameError as exc:
                await self._error("bad_request", str(exc), exc.ref)
                continue
            try:
                if not self._live:
                    await self._go_live(frame if isinstance(frame, ResumeFrame) else None)
                    if isinstance(frame, ResumeFrame):
                        continue
                await self._handle(frame)
            except Exception as exc:  # a failing store or stream: an error frame, not a close
                ref = frame.client_msg_id if isinstance(frame, ChatFrame | ApproveFrame) else None
                await self._failed(exc, ref)

    async def _go_live(self, resume: ResumeFrame | None) -> None:
        """Start delivery: after the ready offset, or after the offset the client resumes from."""
        if resume is not None:
            state = self._state
            answer = await read_after(
                self._stream, state.store, self._user_id, resume.epoch, resume.offset
            )
            if isinstance(answer, Replay):
                self._send(
                    {
                        "type": "resumed",
                        "epoch": resume.epoch,  # a replay is only given for the current epoch
                        "offset": answer.offset,
                        "replayed": len(answer.events),
                    }
                )
                if answer.events:
                    self._outbound.put_nowait(answer.events)
            else:
                self._send(
                    {
                        "type": "resync",
                        "reason": answer.reason,
                        "epoch": answer.epoch,
                        "offset": answer.offset,
                    }
                )
            self._last = answer.offset
        self._live = True
        await self._flush()
        self._pump = asyncio.create_task(self._pump_events())

    async def _handle(self, frame: AnyFrame) -> None:
        if isinstance(frame, PingFrame):
            await self._reply({"type": "pong"})
        elif isinstance(frame, ChatFrame):
            await self._chat(frame)
        elif isinstance(frame, CancelFrame):
            await self._state.runs.cancel(self._user_id, frame.run_id)
        elif isinstance(frame, ApproveFrame):  # accepted: no reply; approval_resolved follows
            await self._state.runs.answer(
                self._user_id,
                frame.run_id,
                frame.call_id,
                frame.answer(),
                audit={"source": "ws", "connection_id": self.id},
            )
        elif isinstance(frame, ResumeFrame):
            await self._error(
                "bad_request",
                "resume is answered only as the first frame after ready; reconnect to resume",
            )
        else:
            await self._error("bad_request", "this connection is already authenticated")

    async def _chat(self, frame: ChatFrame) -> None:
        accepted = await self._state.runs.start(
            self._user_id,
            frame.message,
            thread_id=frame.thread_id,
            agent=frame.agent,
            audit={"source": "ws", "connection_id": self.id, "traceparent": frame.traceparent},
        )
        # No suspension since the run's task was made: it cannot have emitted yet.
        await self._reply(
            {
                "type": "run_accepted",
                "run_id": accepted.run_id,
                "thread_id": accepted.thread_id,
                "client_msg_id": frame.client_msg_id,
            }
        )

    async def _failed(self, exc: Exception, ref: str | None) -> None:
        problem = classify(exc)
        metrics_of(self._websocket).answered(exc)
        if problem.code == "internal":
            logger.error("frame failed: %s", exc, exc_info=exc, extra=self._log())
        await self._error(problem.code, problem.message, ref)
