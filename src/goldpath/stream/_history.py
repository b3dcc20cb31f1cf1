"""A user stream's kept history as encoded frames, in structures the cyclic GC does not walk.

A long-lived process keeps up to ``cap`` events per user for ``resume``. Kept as `Event`
objects (an envelope and its data, both GC-tracked), a thousand busy users held two
million objects, and every full collection walked them all. Kept as one ``str`` per frame
in a list, the strings are not tracked but each full collection still visits every one
(a cache miss each, a million per collection). So frames are packed: every ``BLOCK``
consecutive frames become one ``bytes`` (their UTF-8, joined), beside the bytes of two
arrays: where each frame ends, and when each came (an ``array`` itself is GC-tracked,
its bytes are not). A full history of 1,000 events is 16 such blocks, and the collector
visits 16 objects where it visited 2,000. Only the newest, still open block holds ``str``
frames. A resume decodes the frames it replays.

Offsets are gapless from 1, so block ``k`` holds offsets ``k * BLOCK + 1`` to
``(k + 1) * BLOCK`` and no offset is stored. The kept events are exactly those the bounds
keep; a block's memory goes when its last kept event is dropped.
"""

from __future__ import annotations

from array import array
from collections import deque
from itertools import accumulate

__all__ = ["BLOCK", "FrameHistory"]

BLOCK = 64
"""Frames per packed block: few enough that the open block stays small, enough that a
full history is a handful of objects."""

_Sealed = tuple[bytes, bytes, bytes]  # frames' UTF-8; their ends ("q"), times ("d")


class FrameHistory:
    """The newest events' frames: kept while among the last ``keep_events`` or younger than
    ``keep_seconds`` (whichever keeps more), never more than ``cap``.

    ``append`` takes offsets 1, 2, 3 and so on, as the stream gives them.
    """

    __slots__ = (
        "_cap",
        "_count",
        "_keep_events",
        "_keep_seconds",
        "_newest",
        "_newest_time",
        "_oldest_times",
        "_open",
        "_open_times",
        "_sealed",
    )

    def __init__(self, *, keep_events: int, keep_seconds: float, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"a stream's history cap must be at least 1 event, not {cap}")
        self._keep_events = keep_events
        self._keep_seconds = keep_seconds
        self._cap = cap
        self._sealed: deque[_Sealed] = deque()  # full blocks, oldest first
        self._open: list[str] = []  # the frames of the newest block, not full yet
        self._open_times = array("d")
        # The times of the oldest kept event's block (sealed: a view of its bytes).
        self._oldest_times: array[float] | memoryview[float] = self._open_times
        self._count = 0
        self._newest = 0  # the offset of the newest event appended, 0 before any
        self._newest_time = 0.0

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
        return self._newest_time

    def append(self, offset: int, frame: str, now: float) -> None:
        """Keep the frame of event ``offset`` (the one after the newest), then forget the
        oldest events beyond the bounds."""
        self._open.append(frame)
        self._open_times.append(now)
        self._count += 1
        self._newest, self._newest_time = offset, now
        if len(self._open) == BLOCK:
            self._seal()
        if self._count > self._keep_events or self._count > self._cap:
            self._trim(now - self._keep_seconds)

    def frames_after(self, offset: int) -> list[str]:
        """The frames of the kept events after ``offset``, oldest first; the caller checks
        that ``offset`` is in ``[oldest_offset - 1, newest]``."""
        frames: list[str] = []
        first_block = self._newest // BLOCK - len(self._sealed)
        skip = offset - first_block * BLOCK  # frames of the oldest sealed block before it
        for data, ends, _times in self._sealed:
            if skip < BLOCK:
                offsets = memoryview(ends).cast("q")
                start = offsets[skip - 1] if skip > 0 else 0
                for end in offsets[max(skip, 0) :]:
                    frames.append(data[start:end].decode())
                    start = end
            skip -= BLOCK
        frames += self._open[max(skip, 0) :]
        return frames

    def _trim(self, horizon: float) -> None:
        """Drop the oldest events beyond the cap, and those beyond the count older than
        ``horizon``; runs on every append once the count is reached, so it stays lean."""
        cap, keep, times = self._cap, self._keep_events, self._oldest_times
        count = self._count
        oldest = self._newest - count + 1
        while count > cap or (count > keep and times[(oldest - 1) % BLOCK] < horizon):
            count -= 1
            oldest += 1
            if oldest % BLOCK == 1:  # the oldest block's last kept event went: so does it
                self._sealed.popleft()
                times = self._oldest_times = (
                    memoryview(self._sealed[0][2]).cast("d") if self._sealed else self._open_times
                )
        self._count = count

    def _seal(self) -> None:
        """Pack the open block's frames, their ends and their times into three ``bytes``."""
        encoded = [frame.encode() for frame in self._open]
        ends = array("q", accumulate(map(len, encoded))).tobytes()
        self._sealed.append((b"".join(encoded), ends, self._open_times.tobytes()))
        self._open = []
        self._open_times = array("d")
