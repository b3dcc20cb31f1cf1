"""The protocol client behind `goldpath chat`: log in over HTTP, stream runs over ``/ws``.

`ChatSession` speaks PROTOCOL.md: it logs in (registering first when asked), opens ``/ws``
with ``Authorization: Bearer`` on the upgrade, waits for ``ready``, sends ``chat`` frames
and follows each run to its ``agent_completed``. When the socket drops mid-run it reconnects
and sends ``resume`` with the last epoch and offset it saw; events it already has are
skipped by offset, and a ``resync`` answer makes it reload the run over HTTP. A call that
waits for approval is answered by its `Approver` with an ``approve`` frame, and the run is
followed on to its end.

Frames are shown by `goldpath.cli._render.EventRenderer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

from goldpath.cli._api import (
    ChatClientError,
    ServerApi,
    check_reachable,
    elapsed_ms,
    unreachable,
    websocket_url,
)
from goldpath.cli._approvals import Approver, default_mode
from goldpath.cli._render import EventRenderer, frame_data

__all__ = ["ChatClientError", "ChatOutcome", "ChatSession", "check_reachable", "websocket_url"]

EVENT_TYPES = frozenset(
    {
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "agent_completed",
        "approval_requested",
        "approval_resolved",
    }
)
_RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)


@dataclass(slots=True)
class ChatOutcome:
    """How a run ended: an ``agent_completed`` status, or ``rejected`` when it never began."""

    status: str
    thread_id: str | None = None
    run_id: str | None = None


@dataclass(slots=True)
class _Run:
    client_msg_id: str
    message: str
    run_id: str | None = None
    thread_id: str | None = None
    status: str | None = None
    cancel_requested: bool = False
    cancel_sent: bool = False
    pending: Mapping[str, Any] | None = None
    """The data of an ``approval_requested`` not answered yet."""
    asking: bool = False
    answer: dict[str, Any] | None = None
    """The ``approve`` frame sent for a call whose ``approval_resolved`` has not come yet."""
    answered: Mapping[str, Any] | None = None
    """The ``approval_requested`` data ``answer`` answers."""
    resent: set[str] = field(default_factory=set)
    """The ``client_msg_id`` of answers sent again after a reconnect."""
    asked: set[str] = field(default_factory=set)
    """The calls whose ``approval_requested`` has been shown."""


class ChatSession:
    """One user's connection to a goldpath server, reused for every message of a session."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        renderer: EventRenderer,
        *,
        register: bool = False,
        agent: str | None = None,
        approver: Approver | None = None,
        timeout: float = 10.0,
    ) -> None:
        """``approver`` answers calls that wait for approval (default: reject them, saying
        why, as with a stdin that is not a terminal)."""
        self.url = url.rstrip("/")
        self._ws_url = websocket_url(self.url)
        self._agent = agent
        self._timeout = timeout
        self.renderer = renderer
        self._approver = approver or Approver(
            default_mode(stdin_is_terminal=False), renderer.console, explicit=False
        )
        self._api = ServerApi(self.url, username, password, register=register, timeout=timeout)
        self._ws: ClientConnection | None = None
        self._epoch: str | None = None
        self._offset = 0
        self._background: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ChatSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        await self._api.aclose()

    # ---- HTTP ----------------------------------------------------------------------

    async def login(self) -> None:
        """Get a token (making the account first with ``register``); errors say what to do."""
        await self._api.login()

    async def _reload(self, run: _Run) -> None:
        """After a ``resync``: wait for the run to finish over HTTP and show how it ended."""
        if run.run_id is None:
            raise ChatClientError(
                "lost the run after a reconnect; its answer is in the thread (GET /threads)"
            )
        while True:
            body = await self._api.run(run.run_id)
            if body.get("status") == "waiting" and await self._reload_request(run):
                return
            if body.get("status") not in ("running", "waiting"):
                break
            await asyncio.sleep(0.25)
        text = (body.get("result") or {}).get("text")
        if text:
            self.renderer.line(Text(str(text)))
        took = elapsed_ms(body.get("created_at"), body.get("finished_at"))
        data = {"status": body.get("status"), "error": body.get("error"), "duration_ms": took}
        self.renderer.render({"type": "agent_completed", "data": data})
        run.status = str(body.get("status"))

    async def _reload_request(self, run: _Run) -> bool:
        """For a run found waiting after a ``resync``: show its pending call and make it the
        one to answer. False while the call is not stored yet, or is the one this client
        answered already (its answer was sent again on reconnecting)."""
        assert run.run_id is not None
        request = await self._api.pending_request(run.run_id)
        if request is None:
            return False
        data = frame_data(request)
        if run.answer is not None and run.answer.get("call_id") == data.get("call_id"):
            return False
        self.renderer.render(request)
        run.pending = data
        run.asked.add(str(data.get("call_id")))
        return True

    # ---- WebSocket -----------------------------------------------------------------

    async def _open(self) -> tuple[ClientConnection, Mapping[str, Any]]:
        """Connect, authenticate on the upgrade, and return the socket with its ``ready``."""
        if self._api.token is None:
            await self.login()
        for attempt in range(2):  # a refused token is renewed once: it may have expired
            headers = {"Authorization": f"Bearer {self._api.token}"}
            try:
                ws = await connect(
                    self._ws_url, additional_headers=headers, open_timeout=self._timeout
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                why = " (this Origin is not allowed)" if status == 403 else ""
                raise ChatClientError(
                    f"the server refused the WebSocket with HTTP {status}{why}"
                ) from None
            except (OSError, TimeoutError):
                raise unreachable(self.url) from None
            try:
                async with asyncio.timeout(self._timeout):
                    ready = json.loads(await ws.recv())
            except ConnectionClosed as exc:
                if _close_code(exc) == 4401 and attempt == 0:
                    await self.login()
                    continue
                raise _closed_error(exc) from None
            if ready.get("type") != "ready":
                await ws.close()
                raise ChatClientError(f"expected a ready frame, the server sent {ready!r}")
            return ws, ready["stream"]
        raise AssertionError("unreachable")  # pragma: no cover

    async def connect(self) -> None:
        """A fresh connection: live delivery starts after the offset in its ``ready``."""
        if self._ws is not None:
            await self._ws.close()
        self._ws, stream = await self._open()
        self._epoch, self._offset = str(stream["epoch"]), int(stream["offset"])

    async def _resume(self, run: _Run) -> ClientConnection:
        """Reconnect after a drop and ask for every event after the last one seen.

        An answer to a call whose ``approval_resolved`` has not been seen may have been lost
        with the socket: it is sent again (a second answer gets ``conflict``, not shown).
        """
        for delay in (*_RECONNECT_DELAYS, None):
            try:
                ws, _stream = await self._open()
            except ChatClientError:
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                continue
            self._ws = ws
            await ws.send(
                json.dumps({"type": "resume", "epoch": self._epoch, "offset": self._offset})
            )
            if run.answer is not None:
                again = {**run.answer, "client_msg_id": uuid.uuid4().hex}
                run.resent.add(again["client_msg_id"])
                await ws.send(json.dumps(again))
            return ws
        raise AssertionError("unreachable")  # pragma: no cover

    async def chat(self, message: str, thread_id: str | None = None) -> ChatOutcome:
        """Send one message and show its run until ``agent_completed``."""
        ws = self._ws
        if ws is None or ws.state is not State.OPEN:
            await self.connect()
            ws = self._ws
            assert ws is not None
        run = _Run(client_msg_id=uuid.uuid4().hex, message=message, thread_id=thread_id)
        frame: dict[str, Any] = {
            "type": "chat",
            "message": message,
            "client_msg_id": run.client_msg_id,
        }
        if thread_id:
            frame["thread_id"] = thread_id
        if self._agent:
            frame["agent"] = self._agent
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:  # dropped while idle: the frame was not sent
            await self.connect()
            assert self._ws is not None
            ws = self._ws
            await ws.send(json.dumps(frame))
        with self._interrupts(run):
            try:
                while run.status is None:
                    try:
                        raw = await ws.recv()
                    except ConnectionClosed as exc:
                        if _close_code(exc) in (4401, 1009):
                            raise _closed_error(exc) from None
                        self.renderer.note("… connection lost; reconnecting")
                        ws = await self._resume(run)
                        continue
                    await self._handle(json.loads(raw), run)
                    if run.pending is not None and run.status is None:
                        ws = await self._approve(ws, run, run.pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not run.cancel_requested or task is None or task.uncancel() > 0:
                    raise
                raise ChatClientError(
                    f"stopped waiting for run {run.run_id}; it may still be running on the server"
                ) from None
        return ChatOutcome(status=run.status, thread_id=run.thread_id, run_id=run.run_id)

    async def _handle(self, frame: Mapping[str, Any], run: _Run) -> None:
        kind = frame.get("type")
        if kind in EVENT_TYPES:
            offset = frame.get("offset")
            if isinstance(offset, int):
                if offset <= self._offset:
                    return  # seen before the reconnect: replayed again, shown once
                self._offset = offset
            started = frame_data(frame).get("message") == run.message
            if run.run_id is None and kind == "agent_started" and started:
                run.run_id = frame.get("run_id")  # its run_accepted was lost with the socket
            if frame.get("run_id") != run.run_id:
                return  # a run started from another tab of the same user
            run.thread_id = frame.get("thread_id", run.thread_id)
            call = frame_data(frame).get("call_id")
            if kind == "approval_requested" and call in run.asked:
                return  # shown from the stored events after a resync, then live as well
            self.renderer.render(frame)
            if kind == "agent_completed":
                run.status = str(frame_data(frame).get("status", "error"))
            elif kind == "approval_requested":
                run.pending = frame_data(frame)
                run.asked.add(str(call))
            elif kind == "approval_resolved":
                run.answer = run.answered = None
        elif kind == "run_accepted" and frame.get("client_msg_id") == run.client_msg_id:
            run.run_id, run.thread_id = frame.get("run_id"), frame.get("thread_id")
            if run.cancel_requested:
                self._send_cancel(run)
        elif kind == "error":
            ref, code = frame.get("ref"), frame.get("code")
            if ref in run.resent and code == "conflict":
                return  # an answer sent again after a reconnect: the first one was taken
            self.renderer.render(frame)
            answer = run.answer
            ours = answer is not None and ref in (answer["client_msg_id"], *run.resent)
            if ours and code != "conflict":
                self._refused(run)
                return
            ours = frame.get("ref") in (run.client_msg_id, None)
            if ours and run.run_id is None:
                run.status = "rejected"
                if frame.get("code") == "not_found":
                    run.thread_id = None  # the thread asked for is missing: none to continue
        elif kind == "resumed":
            self.renderer.render(frame)
        elif kind == "resync":
            self.renderer.render(frame)
            self._epoch, self._offset = str(frame.get("epoch")), int(frame.get("offset", 0))
            await self._reload(run)

    async def _approve(
        self, ws: ClientConnection, run: _Run, request: Mapping[str, Any]
    ) -> ClientConnection:
        """Ask the approver about the pending call and send its answer; the socket to read
        on afterwards (a new one when it dropped meanwhile). Nothing is sent for a run
        cancelled while its user was asked."""
        run.pending = None
        args = request.get("args")
        run.asking = True
        try:
            answer = await self._approver.answer(
                str(request.get("tool", "")),
                args if isinstance(args, Mapping) else {},
                lambda: run.cancel_requested,
            )
        finally:
            run.asking = False
        if answer is None or run.cancel_requested:
            return ws
        run.answered = request
        run.answer = {
            "type": "approve",
            "run_id": run.run_id,
            "call_id": request.get("call_id"),
            "client_msg_id": uuid.uuid4().hex,
            **answer.fields(),
        }
        try:
            await ws.send(json.dumps(run.answer))
        except ConnectionClosed:  # dropped while the user thought: answered on a new one
            self.renderer.note("… connection lost; reconnecting")
            ws = await self._resume(run)
        return ws

    def _refused(self, run: _Run) -> None:
        """The server refused the answer (the user at their limit of runs in flight, say):
        the call still waits. Asked again when asking; otherwise the client stops
        following the run, saying where it can be answered."""
        request, run.answer, run.answered = run.answered, None, None
        if self._approver.mode == "ask":
            self.renderer.note("… the call still waits for your answer")
            run.pending = request
            return
        call = request.get("call_id") if request is not None else None
        self.renderer.note(
            f"the run {run.run_id} still waits for approval: answer it in the web page, or "
            f"with POST /runs/{run.run_id}/approvals/{call}, once the reason above is gone"
        )
        run.status = "waiting"

    def _send_cancel(self, run: _Run) -> None:
        if run.cancel_sent or run.run_id is None or self._ws is None:
            return
        run.cancel_sent = True
        frame = json.dumps({"type": "cancel", "run_id": run.run_id})
        task = asyncio.get_running_loop().create_task(self._ws.send(frame))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @contextlib.contextmanager
    def _interrupts(self, run: _Run) -> Iterator[None]:
        """Ctrl-C during a run sends ``cancel``; a second Ctrl-C stops waiting for it."""
        loop = asyncio.get_running_loop()
        waiting = asyncio.current_task()

        def interrupted() -> None:
            if run.cancel_requested:
                if waiting is not None:
                    waiting.cancel()
                return
            run.cancel_requested = True
            asking = "; Enter ends the question" if run.asking else ""
            self.renderer.note(f"… cancelling (Ctrl-C again to stop waiting{asking})")
            self._send_cancel(run)

        try:
            loop.add_signal_handler(signal.SIGINT, interrupted)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)


def _close_code(exc: ConnectionClosed) -> int | None:
    return exc.rcvd.code if exc.rcvd is not None else None


def _closed_error(exc: ConnectionClosed) -> ChatClientError:
    code = _close_code(exc)
    if code == 4401:
        return ChatClientError(
            "the server refused the session (WebSocket closed 4401): log in again"
        )
    if code == 1009:
        return ChatClientError("a frame was over the server's size limit (WebSocket closed 1009)")
    return ChatClientError(f"the server closed the WebSocket (code {code}) before it was ready")
