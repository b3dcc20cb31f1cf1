"""The WebSocket handshake: the Origin rule, authentication, and the close codes.

Everything here happens before a connection is handed its user's stream: a refused
Origin never reaches the upgrade (HTTP 403), and a bad or missing token closes with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Final, Literal, TypeAlias, get_args
from urllib.parse import urlsplit

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from goldpath.errors import AuthError
from goldpath.server._frames import AuthFrame, FrameError, parse_frame
from goldpath.server._state import AppState

__all__ = [
    "CLOSE_CODES",
    "CLOSE_INTERNAL",
    "CLOSE_POLICY",
    "CLOSE_TOO_LARGE",
    "CLOSE_TOO_MANY",
    "CLOSE_UNAUTHORIZED",
    "CloseCode",
    "authenticate",
    "close",
    "origin_allowed",
    "text_of",
    "too_large",
]

CloseCode: TypeAlias = Literal[4401, 4429, 1009, 1011]
"""Every code a client can see a connection closed with (docs/protocol.md): `close` takes
no other."""
CLOSE_CODES: Final = get_args(CloseCode)
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_TOO_MANY: Final = 4429
"""The user already holds the most connections allowed; sent after auth, before ``ready``."""
CLOSE_TOO_LARGE: Final = 1009
CLOSE_INTERNAL: Final = 1011
CLOSE_POLICY: Final = 1008
"""Used only before the upgrade is accepted, which the client sees as HTTP 403."""
_URL_TOKENS = ("token", "access_token")
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """No ``Origin``, an allowed one, or (nothing configured) the server's own origin."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if allowed:
        return "*" in allowed or origin in {a.lower() for a in allowed}
    host = websocket.headers.get("host", "").lower()
    parts = urlsplit(origin)
    if not parts.hostname or parts.scheme not in _DEFAULT_PORTS:
        return False
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    own = urlsplit(f"//{host}")
    try:
        # A Host without a port is the default port of the scheme the browser used, which
        # for a page of this server is its origin's scheme (also behind a TLS proxy).
        own_port = own.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    return parts.hostname == own.hostname and port == own_port


def token_in_url(query_names: Iterable[str]) -> bool:
    """Whether the query names a token (any letter case): refused on /ws and /stream."""
    return any(name.lower() in _URL_TOKENS for name in query_names)


async def authenticate(websocket: WebSocket, state: AppState) -> str | None:
    """The user id, None to close with 4401, or "" when the first frame was too large."""
    if token_in_url(websocket.query_params):
        return None  # a token in the URL ends up in logs and history: never accepted
    auth = state.auth
    header = websocket.headers.get("authorization")
    try:
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            return (await auth.authenticate(token.strip())).user_id
        try:
            message = await asyncio.wait_for(
                websocket.receive(), state.settings.auth_timeout_seconds
            )
        except TimeoutError:
            return None
        text = text_of(message)
        if text is None:
            return None
        if too_large(text, state.settings.max_frame_bytes):
            return ""
        frame = parse_frame(text)
        if not isinstance(frame, AuthFrame):
            return None
        return (await auth.authenticate(frame.token)).user_id
    except (AuthError, FrameError):
        return None


def text_of(message: Any) -> str | None:
    if message["type"] != "websocket.receive":
        return None
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes") or b""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return "\ufffd"  # not JSON: answered with bad_request


def too_large(text: str, limit: int) -> bool:
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit)


async def close(websocket: WebSocket, code: CloseCode) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code=code)
