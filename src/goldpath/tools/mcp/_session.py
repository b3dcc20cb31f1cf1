"""One MCP client session, held open by a task of its own and shared by every call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from mcp import Client

from goldpath.errors import ToolError

__all__ = ["Session"]

logger = logging.getLogger("goldpath.tools.mcp")

CLOSE_TIMEOUT = 5.0


class Session:
    """A connected `mcp.Client`, made on first use and remade after the server goes away.

    The SDK's client must be left by the task that entered it, so a task of the session's
    own enters it, hands it out, and leaves it when the session closes. Calls from any run
    share it (the protocol numbers each request); a connection that does not come up within
    ``connect_timeout`` is a `ToolError`, never a wait without end.
    """

    __slots__ = ("_closing", "_connect", "_connect_timeout", "_label", "_ready", "_task", "busy")

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[Client]],
        label: str,
        connect_timeout: float,
    ) -> None:
        self._connect = connect
        self._label = label
        self._connect_timeout = connect_timeout
        self._closing = asyncio.Event()
        self._ready: asyncio.Future[Client] | None = None
        self._task: asyncio.Task[None] | None = None
        self.busy = 0
        """Calls in flight; the owner counts them so it never closes a session in use."""

    async def client(self) -> Client:
        """The connected client; `ToolError` when the server cannot be reached in time."""
        if self._closing.is_set():
            raise ToolError(f"{self._label} is shut down")
        if self._task is None or self._task.done():
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._hold(self._ready), name=self._label)
        ready = self._ready
        assert ready is not None
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await asyncio.shield(ready)
        except TimeoutError:
            silent = ToolError(
                f"{self._label} did not answer within {self._connect_timeout:g} s; "
                "check that it is running"
            )
            _fail(ready, silent)  # everyone waiting for this connection hears the same
            self._task.cancel()  # and the next call tries again
            raise silent from None
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(f"{self._label} could not be reached: {_describe(exc)}") from None

    async def _hold(self, ready: asyncio.Future[Client]) -> None:
        try:
            async with self._connect() as client:
                ready.set_result(client)
                await self._closing.wait()
        except Exception as exc:
            if ready.done():
                logger.warning("%s went away: %s", self._label, _describe(exc))
            _fail(ready, exc)
        finally:
            _fail(ready, ToolError(f"{self._label} is shut down"))

    async def close(self) -> None:
        """Leave the session (stop the server's process, end the HTTP session)."""
        self._closing.set()
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if not done:  # the server does not let go: stop holding it
            task.cancel()
            await asyncio.wait({task})


def _fail(ready: asyncio.Future[Client], exc: BaseException) -> None:
    """Fail a connection not made yet (nothing if it was), marking the error as seen: the
    callers waiting for it, if any, get it."""
    if not ready.done():
        ready.set_exception(exc)
        ready.exception()


def _describe(exc: BaseException) -> str:
    """An exception in one line; the SDK groups a transport's failures in an ExceptionGroup."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
