"""Sliding-window rate limits: chat messages per user, failed logins per account and address."""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SWEEP_AT", "SlidingWindow"]

SWEEP_AT = 1024
"""Keys held before expired ones are swept out; doubles with the keys still active."""


class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds.

    `retry_after` tells how long a key must wait; `hit` records one. Keys with no hits
    inside the window are forgotten, so memory follows the active keys only.
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
        """Record one hit now; returns its time, which `release` takes to undo it."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None:
            if len(self._hits) >= self._next_sweep:
                self._sweep(now)
            hits = self._hits[key] = deque()
        hits.append(now)
        return now

    def release(self, key: str, at: float) -> None:
        """Undo the hit `hit` or `reserve` recorded at ``at`` (nothing if it already expired)."""
        hits = self._hits.get(key)
        if hits is None:
            return
        with contextlib.suppress(ValueError):
            hits.remove(at)
        if not hits:
            del self._hits[key]

    def reserve(self, key: str) -> tuple[int, float | None]:
        """`try_hit` that also returns the hit's time: ``(0, at)`` when recorded, to be
        undone with `release`; ``(wait, None)`` when the key is full."""
        wait = self.retry_after(key)
        if wait:
            return wait, None
        return 0, self.hit(key)

    def _sweep(self, now: float) -> None:
        """Forget every key with no hit inside the window (keys seen once, e.g. by a scan)."""
        for key in tuple(self._hits):
            self._recent(key, now)
        self._next_sweep = max(SWEEP_AT, 2 * len(self._hits))

    def __len__(self) -> int:
        return len(self._hits)

    def try_hit(self, key: str) -> int:
        """Record a hit if allowed and return 0; otherwise record nothing, return the wait."""
        wait = self.retry_after(key)
        if not wait:
            self.hit(key)
        return wait
