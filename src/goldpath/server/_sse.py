"""``GET /stream``: the user's stream as Server-Sent Events, the same frames as ``/ws``.

Each event is ``id: <epoch>:<offset>``, ``event: <type>``, ``data: <frame>``, so a browser's
``EventSource`` resumes by itself: it sends the last id as ``Last-Event-ID``, which is
answered as ``/ws`` answers ``resume`` (`_replay.read_after`). The response reads the
user's `Subscription` directly, so it holds no copy of the stream: a client that does not
read lets the subscription fill up to its limit, is dropped by the stream (``too_slow``)
and gets one ``resync`` at the newest offset, then live events again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from goldpath.context import new_id
from goldpath.errors import AuthError, SubscriptionClosedError
from goldpath.events import Event
from goldpath.server._errors import ApiError
from goldpath.server._frames import encode
from goldpath.server._handshake import token_in_url
from goldpath.server._http import State, User
from goldpath.server._replay import read_after
from goldpath.server._schemas import ErrorBody
from goldpath.store import Store
from goldpath.stream import Replay, Subscription, UserStream

__all__ = ["KEEP_ALIVE_SECONDS", "SSE_HEADERS", "SseStream", "router"]

logger = logging.getLogger("goldpath.server.sse")

KEEP_ALIVE_SECONDS = 15.0
"""A comment line after this long without an event, so proxies keep the response open."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Every SSE response's headers: no caching, and no buffering by a proxy in front."""

router = APIRouter()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the user's stream"},
        401: {"model": ErrorBody, "description": "no valid token, or a token in the URL"},
        422: {"model": ErrorBody, "description": "Last-Event-ID is not <epoch>:<offset>"},
        429: {"model": ErrorBody, "description": "the user holds the most connections"},
    },
    tags=["stream"],
)
async def stream_events(
    request: Request,
    state: State,
    user_id: User,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The user's stream as SSE: live from now, or, with ``Last-Event-ID``, every event
    after it exactly once (or a ``resync`` event), then live. ``Authorization: Bearer``
    only: a token in the URL is refused."""
    if token_in_url(request.query_params):
        raise AuthError("a token in the URL is never accepted; send it as 'Authorization: Bearer'")
    position = parse_event_id(last_event_id)
    if not state.caps.connect(user_id):
        raise ApiError(
            429, "rate_limited", "too many open streams for this user; close one and retry"
        )
    stream = state.hub.for_user(user_id)
    try:
        subscription = await stream.subscribe()
    except BaseException:
        state.caps.disconnect(user_id)
        raise
    sse = SseStream(stream, state.store, user_id, subscription)
    return StreamingResponse(
        sse.frames(position, release=lambda: state.caps.disconnect(user_id)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def parse_event_id(value: str | None) -> tuple[str, int] | None:
    """``<epoch>:<offset>`` as a position; 422 for anything else."""
    if value is None:
        return None
    epoch, _, offset = value.strip().rpartition(":")
    digits = offset.removeprefix("-")
    if not epoch or not digits.isascii() or not digits.isdigit():
        raise ApiError(
            422,
            "bad_request",
            f"Last-Event-ID {value!r} is not an id of this stream (<epoch>:<offset>); "
            "send the id of the last event received, or none to start live",
        )
    return epoch, int(offset)


class SseStream:
    """One ``/stream`` response: its subscription, and the last offset it sent."""

    __slots__ = ("_last", "_store", "_stream", "_sub", "_user_id", "id")

    def __init__(self, stream: UserStream, store: Store, user_id: str, sub: Subscription) -> None:
        self.id = new_id("conn")
        self._stream = stream
        self._store = store
        self._user_id = user_id
        self._sub = sub
        self._last = sub.offset

    async def frames(
        self, position: tuple[str, int] | None, *, release: Callable[[], None] | None = None
    ) -> AsyncGenerator[str, None]:
        """``ready``, the answer to ``position`` if any, then live events, until closed."""
        try:
            sub = self._sub
            ready = {
                "type": "ready",
                "user_id": self._user_id,
                "connection_id": self.id,
                "stream": {"epoch": sub.epoch, "offset": sub.offset},
            }
            # Resuming, the client's own id must stay its last one until the replay is in.
            yield _sse("ready", ready, None if position is not None else (sub.epoch, sub.offset))
            if position is not None:
                for chunk in await self._resume(*position):
                    yield chunk
            while True:
                event = await self._next()
                if event is None:
                    return
                if isinstance(event, str):
                    yield event
                elif event.offset > self._last:
                    self._last = event.offset
                    yield _event(self._sub.epoch, event)
        finally:
            self._sub.close()
            if release is not None:
                release()

    async def _resume(self, epoch: str, offset: int) -> list[str]:
        answer = await read_after(self._stream, self._store, self._user_id, epoch, offset)
        self._last = answer.offset
        if isinstance(answer, Replay):
            resumed = {
                "type": "resumed",
                "epoch": epoch,
                "offset": answer.offset,
                "replayed": len(answer.events),
            }
            chunks = [_sse("resumed", resumed, None)]
            chunks += [_event(epoch, e) for e in answer.events]
            return chunks
        return [_resync(answer.reason, answer.epoch, answer.offset)]

    async def _next(self) -> Event | str | None:
        """The next live event, a keep-alive comment, or a ``resync`` after a dropped
        subscription (a new one starts at the newest offset); None once it was closed."""
        sub = self._sub
        try:
            if sub.pending():  # the common case under load: no timer
                return await sub.get()
            return await asyncio.wait_for(sub.get(), KEEP_ALIVE_SECONDS)
        except TimeoutError:
            return ": keep-alive\n\n"
        except SubscriptionClosedError as exc:
            if exc.reason == "closed":
                return None  # the hub is closing: end the response
            new = self._sub = await self._stream.subscribe()
            self._last = new.offset
            logger.warning(
                "stream resynced (%s)",
                exc.reason,
                extra={"user_id": self._user_id, "connection_id": self.id},
            )
            return _resync(exc.reason, new.epoch, new.offset)


def _event(epoch: str, event: Event) -> str:
    return f"id: {epoch}:{event.offset}\nevent: {event.type}\ndata: {event.json}\n\n"


def _sse(name: str, frame: dict[str, Any], position: tuple[str, int] | None) -> str:
    head = f"id: {position[0]}:{position[1]}\n" if position is not None else ""
    return f"{head}event: {name}\ndata: {encode(frame)}\n\n"


def _resync(reason: str, epoch: str, offset: int) -> str:
    """A ``resync`` event; its id moves the client's position to the stream's newest."""
    frame = {"type": "resync", "reason": reason, "epoch": epoch, "offset": offset}
    return _sse("resync", frame, (epoch, offset))
