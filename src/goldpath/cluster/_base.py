"""The cluster seam: what every node of one deployment shares, behind one interface.

`Cluster` holds the node's id and the parts that must agree across processes: the users'
run slots, the rate windows, and cancels sent to the node running a run. Two
implementations, chosen once at start-up: `InProcessCluster` (one process, no services)
and ``goldpath.cluster.redis.RedisCluster`` (every process on one Redis). Leases live in
the store for both (`goldpath.cluster.LeaseKeeper`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from goldpath.context import new_id
from goldpath.factory import RunSlots

__all__ = ["CancelHandler", "Cluster", "RateWindow", "Windows", "new_node_id"]

CancelHandler = Callable[[str], None]
"""Called with a run id when a cancel for a run of this node arrives."""


def new_node_id() -> str:
    """A fresh node id: every start of a server process is a new node."""
    return new_id("node")


class RateWindow(abc.ABC):
    """At most ``limit`` hits per key in any window of time (a sliding window).

    `reserve` checks and records a hit in one atomic step and returns a token that
    `release` takes to undo it; `try_hit` keeps the hit. `wait` only checks, `record` only
    records (for a limit that counts outcomes, not attempts). Waits are in whole seconds.
    """

    @property
    @abc.abstractmethod
    def limit(self) -> int:
        """The most hits a key may have inside the window."""

    @abc.abstractmethod
    async def reserve(self, key: str) -> tuple[int, str | None]:
        """``(0, hit)`` when the hit was recorded; ``(wait, None)`` when ``key`` is full."""

    @abc.abstractmethod
    async def release(self, key: str, hit: str) -> None:
        """Undo the hit `reserve` recorded (nothing if it already left the window)."""

    @abc.abstractmethod
    async def wait(self, key: str) -> int:
        """Whole seconds until ``key`` may be hit again; 0 when it may be now."""

    @abc.abstractmethod
    async def record(self, key: str) -> None:
        """Record one hit now, whatever the count."""

    async def try_hit(self, key: str) -> int:
        """Record a hit if allowed and return 0; otherwise record nothing, return the wait."""
        wait, _ = await self.reserve(key)
        return wait


Windows = Callable[[str, int, float], RateWindow]
"""Makes a named rate window: ``windows(name, limit, seconds)``; `Cluster.window` is one."""


class Cluster(abc.ABC):
    """This node's view of the deployment: its id, the shared slots, windows and cancels."""

    node_id: str

    @property
    @abc.abstractmethod
    def slots(self) -> RunSlots:
        """The users' run slots, handed to the `ExecutionEngineFactory`."""

    @abc.abstractmethod
    def window(self, name: str, limit: int, seconds: float) -> RateWindow:
        """A rate window shared by every node; ``name`` keeps different limits apart."""

    @abc.abstractmethod
    async def start(self, on_cancel: CancelHandler) -> None:
        """Begin receiving cancels for this node's runs."""

    @abc.abstractmethod
    async def send_cancel(self, node_id: str, run_id: str) -> bool:
        """Ask node ``node_id`` to cancel ``run_id``; False when no node received it."""

    async def heartbeat(self, run_ids: frozenset[str]) -> None:  # noqa: B027 - nothing to renew
        """Renew whatever this node holds outside the store for its runs (their slots)."""

    async def check(self) -> None:  # noqa: B027 - an in-process cluster is always reachable
        """Raise `StreamError` when the shared backend cannot be reached; /health asks."""

    async def close(self) -> None:  # noqa: B027 - nothing to release in process
        """Stop receiving cancels and release connections."""
