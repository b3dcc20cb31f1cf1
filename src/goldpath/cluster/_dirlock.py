"""One process per SQLite database: an OS file lock beside the database file.

A second ``goldpath serve`` on a data directory in use refuses to start, naming the
process that holds it, before it opens the database. The lock is ``flock`` on
``<database>.lock``, which holds the holder's pid; the OS releases it when the holder
exits, however it exits, so a stale file never blocks a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from goldpath.errors import ConfigurationError

__all__ = ["DatabaseLock", "sqlite_path"]


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for another database or an in-memory one."""
    prefix, _, rest = database_url.partition(":///")
    if not prefix.startswith("sqlite") or not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])


class DatabaseLock:
    """Held by the one process serving a SQLite database, from start-up to exit."""

    __slots__ = ("_fd", "path")

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `ConfigurationError` naming the process holding it.

        Creates the lock file (and nothing else) when missing; writes this pid into it only
        once the lock is held.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"another goldpath process (pid {holder}) is serving {self.path.parent}; "
                "stop it first, or give this one its own GOLDPATH_DATA_DIR (several "
                "processes need PostgreSQL and Redis: see docs/deploy.md)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def check(self) -> None:
        """`acquire` and `release` at once: fail now, with the holder's pid, if it is held.

        A data directory that does not exist yet is served by nobody and is left unmade."""
        if not self.path.parent.is_dir():
            return
        self.acquire()
        self.release()
