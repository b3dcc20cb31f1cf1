"""One deployment of many processes: nodes, leases, shared slots, limits and cancels.

Every server process is a node (`Cluster.node_id`). Its runs carry a lease in the store
that `LeaseKeeper` renews and every node sweeps; slots, rate windows and cancels go
through one `Cluster`, in process (`InProcessCluster`) or across processes on Redis
(``goldpath.cluster.redis.RedisCluster``, imported only when Redis is configured).
See docs/deploy.md and docs/architecture.md.
"""

from goldpath.cluster._base import CancelHandler, Cluster, RateWindow, Windows, new_node_id
from goldpath.cluster._dirlock import DatabaseLock, sqlite_path
from goldpath.cluster._leases import INTERRUPTED, LeaseKeeper, write_end
from goldpath.cluster._memory import InProcessCluster
from goldpath.cluster._windows import SlidingWindow, in_process_window

__all__ = [
    "INTERRUPTED",
    "CancelHandler",
    "Cluster",
    "DatabaseLock",
    "InProcessCluster",
    "LeaseKeeper",
    "RateWindow",
    "SlidingWindow",
    "Windows",
    "in_process_window",
    "new_node_id",
    "sqlite_path",
    "write_end",
]
