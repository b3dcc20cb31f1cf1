"""A flag tasks can wait on, kept small: uvicorn's ``writable`` event on each open ``/ws``
connection (`LeanWebSocketProtocol`).

`asyncio.Event` makes a deque for its waiters when it is made (about 860 bytes in all); a
server holds one per open connection, and nearly all of them are never waited on.
"""

from __future__ import annotations

import asyncio

__all__ = ["Flag"]


class Flag:
    """`asyncio.Event`'s ``set``, ``clear``, ``is_set`` and ``wait``; the list of waiters is
    made by the first wait that has to wait."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Set the flag and wake every task waiting for it."""
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        """Return once the flag is set (at once if it is); True, as `asyncio.Event.wait`."""
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True
