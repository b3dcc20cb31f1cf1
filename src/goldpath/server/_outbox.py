"""A first-in first-out queue for one reader, kept small: a ``/ws`` connection's outbound
frames, and the messages uvicorn has received on it (`LeanWebSocketProtocol`).

A server holds two per open connection, most of them idle for long stretches.
`asyncio.Queue` carries three deques and an `asyncio.Event` (about 3 KiB before anything is
queued) to serve many readers and writers, bounded sizes and ``join``; each of these has
one reader, and is empty nearly always.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["Outbox"]

T = TypeVar("T")


class Outbox(Generic[T]):
    """`asyncio.Queue`'s ``put_nowait``, ``get``, ``qsize`` and ``empty`` for one reader."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> T:
        """The oldest item, waiting for one if there is none."""
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("Outbox.get is already waiting: an outbox has one reader")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        # The list stays short (the writer keeps up, or the connection falls behind at
        # OUTBOUND_LIMIT items), so taking from its front costs little.
        return self._items.pop(0)
