"""A uvicorn server in a thread of the test process: the one way tests serve an ASGI app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

__all__ = ["serving_in_thread"]


@contextmanager
def serving_in_thread(config: uvicorn.Config, name: str) -> Iterator[int]:
    """Serve ``config`` in a daemon thread until the block ends; yields the bound port.

    `RuntimeError` when the server does not start within 20 s (or its thread dies first).
    """
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server {name!r} did not start")
        time.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
