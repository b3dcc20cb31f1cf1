"""User streams held in this process: the default, for one process and no services."""

from __future__ import annotations

import time
import uuid

from goldpath.events import Event, EventData, decode_event
from goldpath.stream._base import Replay, Resync, StreamHub, Subscription, UserStream
from goldpath.stream._history import FrameHistory

__all__ = ["InMemoryStreamHub", "InMemoryUserStream"]


class InMemoryUserStream(UserStream):
    """History is kept while it is among the last ``history_events`` or younger than
    ``history_seconds`` (whichever keeps more), but never more than ``history_cap`` events.
    History holds each event's frame, not the event (see `FrameHistory`): a resume decodes
    the events it replays.
    """

    __slots__ = ("_epoch", "_history", "_offset", "_queue_limit", "_subscribers", "_used")

    def __init__(
        self, *, history_events: int, history_seconds: float, history_cap: int, queue_limit: int
    ) -> None:
        self._epoch = uuid.uuid4().hex
        self._used = time.monotonic()
        self._offset = 0
        self._history = FrameHistory(
            keep_events=history_events, keep_seconds=history_seconds, cap=history_cap
        )
        self._queue_limit = queue_limit
        self._subscribers: list[Subscription] = []

    @property
    def epoch(self) -> str:
        """Changes whenever the stream's history was lost (a new hub, a forgotten stream)."""
        return self._epoch

    @property
    def latest_offset(self) -> int:
        """The offset of the newest event, 0 when there is none; read without waiting."""
        return self._offset

    async def position(self) -> tuple[str, int]:
        return self._epoch, self._offset

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        self._offset += 1
        event = Event(self._offset, run_id, thread_id, agent, ts, data, epoch=self._epoch)
        self._history.append(self._offset, event.json, time.monotonic())
        if self._subscribers:
            for subscriber in tuple(self._subscribers):
                subscriber.deliver(event)
        return event

    async def read_after(self, epoch: str, offset: int) -> Replay | Resync:
        latest = self._offset
        if epoch != self._epoch:
            return Resync("epoch_changed", self._epoch, latest)
        if offset < 0:
            return Resync("offset_invalid", self._epoch, latest)
        if offset > latest:
            return Resync("offset_ahead", self._epoch, latest)
        if offset == latest:
            return Replay((), latest)
        if offset + 1 < self._history.oldest_offset:
            return Resync("history_expired", self._epoch, latest)
        epoch = self._epoch
        frames = self._history.frames_after(offset)
        return Replay(tuple(decode_event(frame, epoch) for frame in frames), latest)

    async def subscribe(self, limit: int | None = None) -> Subscription:
        """Never suspends: in one process the position cannot move while it is read."""
        if limit is not None and limit < 1:
            raise ValueError(f"a subscription's queue limit must be at least 1, not {limit}")
        queue_limit = self._queue_limit if limit is None else limit
        subscription = Subscription(self._offset, queue_limit, self, self._epoch)
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def idle_for(self, now: float) -> float:
        """Seconds since the stream was last handed out or written to."""
        return now - max(self._history.newest_time, self._used)


class InMemoryStreamHub(StreamHub):
    """Each user's stream, kept while it is in use; a new hub (a restart) is a new epoch.

    A stream with no subscriber and no event for ``idle_seconds`` is forgotten, so memory
    follows the users who are active rather than every user ever seen; its user's next
    event starts a new epoch, and a client resuming the old one is told to resync.
    ``idle_seconds`` must be longer than any run can stay silent (the run timeout).
    """

    __slots__ = (
        "_history_cap",
        "_history_events",
        "_history_seconds",
        "_idle_seconds",
        "_next_sweep",
        "_queue_limit",
        "_streams",
    )

    _FIRST_SWEEP = 1024

    def __init__(
        self,
        *,
        history_events: int = 1000,
        history_seconds: float = 600.0,
        history_cap: int | None = None,
        queue_limit: int = 1000,
        idle_seconds: float | None = None,
    ) -> None:
        self._history_events = history_events
        self._history_seconds = history_seconds
        self._history_cap = history_cap if history_cap is not None else history_events * 10
        self._queue_limit = queue_limit
        self._idle_seconds = idle_seconds if idle_seconds is not None else history_seconds
        self._streams: dict[str, InMemoryUserStream] = {}
        self._next_sweep = self._FIRST_SWEEP

    def for_user(self, user_id: str) -> InMemoryUserStream:
        stream = self._streams.get(user_id)
        if stream is None:
            if len(self._streams) >= self._next_sweep:
                self.forget_idle()
            stream = self._streams[user_id] = InMemoryUserStream(
                history_events=self._history_events,
                history_seconds=self._history_seconds,
                history_cap=self._history_cap,
                queue_limit=self._queue_limit,
            )
        else:
            # Handing a stream out counts as use: an engine may hold it for a while (the
            # server awaits the store) before its first event.
            stream._used = time.monotonic()
        return stream

    def forget_idle(self) -> int:
        """Forget the streams idle past ``idle_seconds`` with no subscriber; how many.

        Runs by itself as the number of streams grows (amortised: the next sweep waits
        until the count doubles), and may be called on a timer.
        """
        now = time.monotonic()
        idle = [
            user_id
            for user_id, stream in self._streams.items()
            if not stream.subscriber_count and stream.idle_for(now) > self._idle_seconds
        ]
        for user_id in idle:
            del self._streams[user_id]
        self._next_sweep = max(self._FIRST_SWEEP, 2 * len(self._streams))
        return len(idle)

    @property
    def stream_count(self) -> int:
        return len(self._streams)
