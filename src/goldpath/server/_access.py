"""The access log: one line per HTTP request, with no query string and every value quoted.

uvicorn's own access log prints the full request target, query string included (where a
token would sit), and whatever address a forwarding header named, as is. This one logs the
path alone, and writes each value the client chose (the path, the address a trusted proxy
forwarded) as a JSON string, so a newline or a quote in it cannot start a forged line.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware", "as_data"]

logger = logging.getLogger("goldpath.server.access")


def as_data(value: str) -> str:
    """``value`` as a JSON string: quoted, with control and non-ASCII characters escaped."""
    return json.dumps(value)


class AccessLogMiddleware:
    """Logs ``METHOD "path" status duration client="address"`` at INFO when a response ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before it responds

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            client = scope.get("client")
            logger.info(
                "%s %s %d %.1f ms client=%s",
                as_data(scope["method"]),
                as_data(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                as_data(client[0] if client else "-"),
                extra=_ids(scope.get("state", {})),
            )


def _ids(state: dict[str, str]) -> dict[str, str]:
    """The request's id, and the user's once authentication named one."""
    ids = {"request_id": state.get("request_id", "-")}
    if "user_id" in state:
        ids["user_id"] = state["user_id"]
    return ids
