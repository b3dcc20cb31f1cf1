"""The user stream: one ordered, gapless log of events per user, and its subscribers.

A backend implements `StreamHub` and `UserStream`; the in-memory one is the default and a
Redis one shares streams across processes. Code above this package sees only these types.
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass

from goldpath.errors import SubscriptionClosedError
from goldpath.events import Event, EventData

__all__ = ["Replay", "Resync", "StreamHub", "Subscription", "UserStream"]


@dataclass(frozen=True, slots=True)
class Replay:
    """The events after the offset a client sent, all of them; ``offset`` is the newest."""

    events: tuple[Event, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Resync:
    """The stream cannot give every missed event; the client reloads state over HTTP.

    ``reason`` is one of ``epoch_changed``, ``offset_ahead``, ``offset_invalid`` (negative),
    ``history_expired``, ``too_slow``; ``epoch`` and ``offset`` are the stream's current position.
    """

    reason: str
    epoch: str
    offset: int


class Subscription:
    """One live reader of a user's stream, with a bounded buffer.

    A reader that falls more than ``limit`` events behind is dropped with reason
    ``too_slow`` instead of growing memory or slowing the run that emits.
    """

    __slots__ = ("_buffer", "_closed", "_limit", "_unsubscribe", "_waiter", "epoch", "offset")

    def __init__(self, offset: int, limit: int, unsubscribe: UserStream, epoch: str) -> None:
        self.offset = offset
        """The newest offset when the subscription began: later events arrive here."""
        self.epoch = epoch
        """The stream's epoch when the subscription began, the one ``offset`` belongs to."""
        # A list, not a deque (760 bytes empty): the server holds one subscription per open
        # connection, and its reader empties the buffer as events arrive.
        self._buffer: list[Event] = []
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self._closed: str | None = None
        self._unsubscribe: UserStream | None = unsubscribe

    @property
    def closed_reason(self) -> str | None:
        return self._closed

    def deliver(self, event: Event) -> None:
        """Called by the stream for each new event; never blocks."""
        if self._closed is not None:
            return
        if len(self._buffer) >= self._limit:
            self.close("too_slow")
            return
        self._buffer.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self, reason: str = "closed") -> None:
        """Stop receiving; a pending `get` raises `SubscriptionClosedError` with ``reason``."""
        if self._closed is not None:
            return
        self._closed = reason
        if reason != "closed":
            self._buffer.clear()
        stream, self._unsubscribe = self._unsubscribe, None
        if stream is not None:
            stream.unsubscribe(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pending(self) -> int:
        return len(self._buffer)

    async def get(self) -> Event:
        """The next event; `SubscriptionClosedError` once closed and drained."""
        while not self._buffer:
            if self._closed is not None:
                raise SubscriptionClosedError(self._closed)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.pop(0)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except SubscriptionClosedError as exc:
            if exc.reason == "closed":
                raise StopAsyncIteration from None
            raise


class UserStream(abc.ABC):
    """One user's stream: appends get the next offset; history answers `read_after`.

    Reading the position and subscribing are async because a shared backend (Redis) must
    ask its server; a subscription carries the position it began at (``epoch``,
    ``offset``), which is what a client is told in ``ready``.
    """

    @abc.abstractmethod
    async def position(self) -> tuple[str, int]:
        """The epoch and the offset of the newest event (0 when there is none).

        The epoch changes whenever the stream's history was lost, so old offsets never match.
        """

    @abc.abstractmethod
    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        """Give the event the next offset, keep it for resume, deliver it to subscribers."""

    @abc.abstractmethod
    async def read_after(self, epoch: str, offset: int) -> Replay | Resync:
        """Every event after ``offset`` of ``epoch``, or why they cannot all be given."""

    @abc.abstractmethod
    async def subscribe(self, limit: int | None = None) -> Subscription:
        """A live reader of every event after the newest one when it returns.

        Its ``epoch`` and ``offset`` are that position: no event after it is missed.
        """

    @abc.abstractmethod
    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscriber; `Subscription.close` calls this."""


class StreamHub(abc.ABC):
    """Every user's stream, by user id, from one backend."""

    @abc.abstractmethod
    def for_user(self, user_id: str) -> UserStream:
        """The stream of ``user_id``, made on first use."""

    async def close(self) -> None:  # noqa: B027 - backends without connections need nothing
        """Release the backend's connections."""

    async def check(self) -> None:  # noqa: B027 - an in-process backend is always reachable
        """Raise `StreamError` when the backend cannot serve; /health calls this."""
