"""The in-process `RateWindow`: a sliding window per key, in this process's memory."""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

from goldpath.cluster._base import RateWindow

__all__ = ["SWEEP_AT", "SlidingWindow", "in_process_window"]

SWEEP_AT = 1024
"""Keys held before expired ones are swept out; doubles with the keys still active."""


class SlidingWindow(RateWindow):
    """At most ``limit`` hits per key in any ``window`` seconds, counted in this process.

    `retry_after` tells how long a key must wait; `hit` records one. Keys with no hits
    inside the window are forgotten, so memory follows the active keys only. Nothing here
    suspends, so each check-and-record is atomic within the event loop.
    """

    __slots__ = ("_clock", "_hits", "_limit", "_next_sweep", "_window")

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = SWEEP_AT

    @property
    def limit(self) -> int:
        return self._limit

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        horizon = now - self._window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may be hit again; 0 when it may be now."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None or len(hits) < self._limit:
            return 0
        return max(1, math.ceil(hits[0] + self._window - now))

    def hit(self, key: str) -> float:
        """Record one hit now, whatever the count; returns its time."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None:
            if len(self._hits) >= self._next_sweep:
                self._sweep(now)
            hits = self._hits[key] = deque()
        hits.append(now)
        return now

    async def wait(self, key: str) -> int:
        return self.retry_after(key)

    async def record(self, key: str) -> None:
        self.hit(key)

    async def reserve(self, key: str) -> tuple[int, str | None]:
        wait = self.retry_after(key)
        if wait:
            return wait, None
        return 0, repr(self.hit(key))

    async def release(self, key: str, hit: str) -> None:
        hits = self._hits.get(key)
        if hits is None:
            return
        with contextlib.suppress(ValueError):
            hits.remove(float(hit))
        if not hits:
            del self._hits[key]

    def _sweep(self, now: float) -> None:
        """Forget every key with no hit inside the window (keys seen once, e.g. by a scan)."""
        for key in tuple(self._hits):
            self._recent(key, now)
        self._next_sweep = max(SWEEP_AT, 2 * len(self._hits))

    def __len__(self) -> int:
        return len(self._hits)


def in_process_window(name: str, limit: int, seconds: float) -> RateWindow:
    """`Windows` for one process: each window lives in this process alone."""
    return SlidingWindow(limit, seconds)
