"""A start-up that fails says why in one line, not in a traceback.

The app's lifespan opens what only exists at start-up (the store, the stream backend, MCP
tool sources, the tools GOLDPATH_APPROVAL_TOOLS names). When that fails with a
`GoldpathError` the message already says what to do; Starlette would send uvicorn the
whole traceback to print. `reported` keeps the error on ``app.state.startup_error`` and
`StartupErrors` hands uvicorn its one-line message instead, so ``goldpath serve`` (and
plain uvicorn) print that line, and ``goldpath serve`` exits with goldpath's own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goldpath.errors import GoldpathError

__all__ = ["StartupErrors", "reported"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def reported(lifespan: Lifespan) -> Lifespan:
    """``lifespan``, keeping a `GoldpathError` it fails to start with on the app's state."""

    @asynccontextmanager
    async def reporting(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(lifespan(app))
            except GoldpathError as exc:
                app.state.startup_error = exc
                raise
            yield

    return reporting


class StartupErrors:
    """ASGI middleware: a start-up failed with a `GoldpathError` is told by its message."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            error = getattr(self.owner.state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and error is not None:
                message = {"type": message["type"], "message": str(error)}
            await send(message)

        await self.app(scope, receive, sending)
