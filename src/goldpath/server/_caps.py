"""Caps on what one user can hold: open ``/ws`` connections and new threads a minute.

New threads are counted by the cluster (across every node, with Redis); open connections
by this process.
"""

from __future__ import annotations

from goldpath.cluster import RateWindow
from goldpath.errors import LimitExceededError

__all__ = ["Caps", "ThreadLimitedError"]


class ThreadLimitedError(LimitExceededError):
    """The user made more threads than allowed in the last minute."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"more than {limit} new threads in a minute; wait {retry_after} s, "
            "or continue an existing thread"
        )
        self.retry_after = retry_after


class Caps:
    """The per-user caps (docs/security.md): ``threads`` is the cluster's window of new
    threads a minute."""

    __slots__ = ("_connections", "_max_connections", "_threads")

    def __init__(self, *, connections_per_user: int, threads: RateWindow) -> None:
        self._max_connections = connections_per_user
        self._connections: dict[str, int] = {}
        self._threads = threads

    def connect(self, user_id: str) -> bool:
        """Take one of the user's connection places; False when they are all taken."""
        held = self._connections.get(user_id, 0)
        if held >= self._max_connections:
            return False
        self._connections[user_id] = held + 1
        return True

    def disconnect(self, user_id: str) -> None:
        """Give back the place `connect` took."""
        left = self._connections[user_id] - 1
        if left:
            self._connections[user_id] = left
        else:
            del self._connections[user_id]

    async def new_thread(self, user_id: str) -> None:
        """Count one thread made by the user; `ThreadLimitedError` past the limit."""
        wait = await self._threads.try_hit(user_id)
        if wait:
            raise ThreadLimitedError(self._threads.limit, wait)
