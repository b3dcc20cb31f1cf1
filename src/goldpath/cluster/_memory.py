"""The cluster of one process: slots, windows and cancels kept here."""

from __future__ import annotations

from goldpath.cluster._base import CancelHandler, Cluster, RateWindow, new_node_id
from goldpath.cluster._windows import in_process_window
from goldpath.factory import InProcessRunSlots, RunSlots

__all__ = ["InProcessCluster"]


class InProcessCluster(Cluster):
    """One node is the whole deployment: every run in flight is in this process."""

    __slots__ = ("_on_cancel", "_slots", "node_id")

    def __init__(self, node_id: str | None = None) -> None:
        self.node_id = node_id or new_node_id()
        self._slots = InProcessRunSlots()
        self._on_cancel: CancelHandler | None = None

    @property
    def slots(self) -> RunSlots:
        return self._slots

    def window(self, name: str, limit: int, seconds: float) -> RateWindow:
        return in_process_window(name, limit, seconds)

    async def start(self, on_cancel: CancelHandler) -> None:
        self._on_cancel = on_cancel

    async def send_cancel(self, node_id: str, run_id: str) -> bool:
        """Only this node exists: a run of another node is one a stopped process left."""
        if node_id != self.node_id or self._on_cancel is None:
            return False
        self._on_cancel(run_id)
        return True
