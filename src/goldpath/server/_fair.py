"""`FairSlots`: a bounded number of holders, shared fairly between the keys that wait."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["FairSlots"]


class FairSlots:
    """At most ``capacity`` holders at once; waiters queue per key, and a freed slot goes to
    the waiting key that holds the fewest slots (the longest-waiting one among equals), so a
    key with many waiters cannot starve the others.

    The keys are client addresses: thirty concurrent attempts from one address wait behind
    each other, while one attempt from another address takes the next free slot.
    """

    __slots__ = ("_free", "_holding", "_waiting")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._free = capacity
        self._holding: dict[str, int] = {}
        # Insertion order is the turn order among equals: a served key goes to the back.
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        await self._acquire(key)
        try:
            yield
        finally:
            self._release(key)

    async def _acquire(self, key: str) -> None:
        if self._free and not self._waiting:
            self._free -= 1
            self._holding[key] = self._holding.get(key, 0) + 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(key)  # handed a slot as it was cancelled: pass it on
            else:
                self._forget(key, turn)
            raise

    def _forget(self, key: str, turn: asyncio.Future[None]) -> None:
        queue = self._waiting[key]
        queue.remove(turn)
        if not queue:
            del self._waiting[key]

    def _release(self, key: str) -> None:
        held = self._holding[key] - 1
        if held:
            self._holding[key] = held
        else:
            del self._holding[key]
        if key in self._waiting:  # its turn was just used: behind the others
            self._waiting[key] = self._waiting.pop(key)
        while self._waiting:
            holding = self._holding
            chosen = min(self._waiting, key=lambda waiting: holding.get(waiting, 0))
            queue = self._waiting.pop(chosen)
            turn = queue.popleft()
            if queue:
                self._waiting[chosen] = queue  # to the back of the turn order
            if not turn.done():
                holding[chosen] = holding.get(chosen, 0) + 1
                turn.set_result(None)
                return
        self._free += 1
