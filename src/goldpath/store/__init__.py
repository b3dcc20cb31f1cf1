"""Users, threads, messages, runs and their events on SQLite or PostgreSQL, scoped by owner.

See docs/store.md for the schema, the ids and how to add a migration.
"""

from ._pauses import PausedRunRecord
from ._records import (
    MessageRecord,
    Role,
    RunEventBatch,
    RunEventRecord,
    RunLease,
    RunRecord,
    RunState,
    ThreadRecord,
    UserRecord,
)
from ._store import DEFAULT_TITLE, Store

__all__ = [
    "DEFAULT_TITLE",
    "MessageRecord",
    "PausedRunRecord",
    "Role",
    "RunEventBatch",
    "RunEventRecord",
    "RunLease",
    "RunRecord",
    "RunState",
    "Store",
    "ThreadRecord",
    "UserRecord",
]
