"""A user stream's kept history as wire frames, in structures the cyclic GC does not walk.

A long-lived process keeps up to ``cap`` events per user for ``resume``. Kept as `Event`
objects (an envelope and its data, both GC-tracked), a thousand busy users held millions
of objects, and every full collection walked them all: the collector's share of the time
doubled and throughput fell by a third. Kept here instead: each event's frame (a ``str``,
which the GC does not track) in a list used as a ring, and its time in an ``array`` (one
flat buffer). Offsets are gapless, so only the newest is stored. A resume decodes the
frames it replays, as the Redis stream does.
"""

from __future__ import annotations

from array import array

__all__ = ["FrameHistory"]

_FIRST_CAPACITY = 16


class FrameHistory:
    """The newest events' frames: kept while among the last ``keep_events`` or younger than
    ``keep_seconds`` (whichever keeps more), never more than ``cap``.

    The ring grows by doubling up to ``cap``, so a quiet user costs a few slots, not ``cap``.
    """

    __slots__ = (
        "_cap",
        "_count",
        "_frames",
        "_head",
        "_keep_events",
        "_keep_seconds",
        "_newest",
        "_times",
    )

    def __init__(self, *, keep_events: int, keep_seconds: float, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"a stream's history cap must be at least 1 event, not {cap}")
        self._keep_events = keep_events
        self._keep_seconds = keep_seconds
        self._cap = cap
        self._frames: list[str] = []  # a ring of len(self._frames) slots
        self._times = array("d")  # the same slots' append times (time.monotonic)
        self._head = 0  # the slot of the oldest kept event
        self._count = 0
        self._newest = 0  # the offset of the newest event appended, 0 before any

    def __len__(self) -> int:
        return self._count

    @property
    def cap(self) -> int:
        return self._cap

    @property
    def oldest_offset(self) -> int:
        """The offset of the oldest kept event (the next offset when none is kept)."""
        return self._newest - self._count + 1

    @property
    def newest_time(self) -> float:
        """When the newest event was appended; 0.0 before any."""
        if not self._count:
            return 0.0
        return self._times[(self._head + self._count - 1) % len(self._frames)]

    def append(self, offset: int, frame: str, now: float) -> None:
        """Keep the frame of event ``offset`` (the one after the newest), then forget the
        oldest events beyond the bounds."""
        capacity = len(self._frames)
        if self._count == capacity:
            if capacity < self._cap:
                self._grow(min(self._cap, max(_FIRST_CAPACITY, 2 * capacity)))
                capacity = len(self._frames)
            else:
                self._drop_oldest(capacity)
        slot = (self._head + self._count) % capacity
        self._frames[slot] = frame
        self._times[slot] = now
        self._count += 1
        self._newest = offset
        times, horizon = self._times, now - self._keep_seconds
        while self._count > self._keep_events and times[self._head] < horizon:
            self._drop_oldest(capacity)

    def frames_after(self, offset: int) -> list[str]:
        """The frames of the kept events after ``offset``, oldest first; the caller checks
        that ``offset`` is in ``[oldest_offset - 1, newest]``."""
        skip = offset + 1 - self.oldest_offset
        start, stop = self._head + skip, self._head + self._count
        frames, capacity = self._frames, len(self._frames)
        if stop <= capacity:
            return frames[start:stop]
        if start >= capacity:
            return frames[start - capacity : stop - capacity]
        return frames[start:] + frames[: stop - capacity]

    def _drop_oldest(self, capacity: int) -> None:
        self._frames[self._head] = ""  # the frame's memory goes now, not when overwritten
        self._head = (self._head + 1) % capacity
        self._count -= 1

    def _grow(self, capacity: int) -> None:
        """Re-lay the full ring oldest-first into ``capacity`` slots."""
        head, more = self._head, capacity - len(self._frames)
        self._frames = self._frames[head:] + self._frames[:head] + [""] * more
        self._times = self._times[head:] + self._times[:head] + array("d", [0.0]) * more
        self._head = 0
