"""Users, threads, messages and runs on SQLite or PostgreSQL; every query scoped by owner.

See docs/store.md for the schema, the ids and how to add a migration.
"""

from ._records import (
    MessageRecord,
    Role,
    RunRecord,
    RunState,
    ThreadRecord,
    UserRecord,
)
from ._store import DEFAULT_TITLE, Store

__all__ = [
    "DEFAULT_TITLE",
    "MessageRecord",
    "Role",
    "RunRecord",
    "RunState",
    "Store",
    "ThreadRecord",
    "UserRecord",
]
