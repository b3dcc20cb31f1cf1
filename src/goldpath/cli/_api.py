"""The HTTP side of `goldpath chat`: where the server is, logging in, and reading runs.

`ServerApi` holds the HTTP client and the access token; `goldpath.cli._client.ChatSession`
uses it for the token its WebSocket needs and to reload a run after a ``resync``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from goldpath.errors import GoldpathError

__all__ = [
    "ChatClientError",
    "ServerApi",
    "check_reachable",
    "elapsed_ms",
    "unreachable",
    "websocket_url",
]


class ChatClientError(GoldpathError):
    """A chat could not go on; the message says what was wrong and what to do."""


def unreachable(url: str) -> ChatClientError:
    return ChatClientError(f"cannot reach goldpath at {url}: is `goldpath serve` running?")


def check_reachable(url: str, timeout: float = 10.0) -> None:
    """Raise `ChatClientError` unless a goldpath server answers ``GET /health`` at ``url``."""
    websocket_url(url)
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=timeout)
    except httpx.TransportError:
        raise unreachable(url.rstrip("/")) from None


def websocket_url(url: str) -> str:
    """The ``/ws`` address of the server at ``url`` (``http`` becomes ``ws``, ``https`` ``wss``)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ChatClientError(f"--url must look like http://host:port, got {url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class ServerApi:
    """One user's HTTP client of a goldpath server: its token, and the runs it reads."""

    def __init__(
        self, url: str, username: str, password: str, *, register: bool, timeout: float
    ) -> None:
        self.url = url.rstrip("/")
        self._username = username
        self._password = password
        self._register = register
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)
        self.token: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise unreachable(self.url) from None
        except httpx.TransportError as exc:
            raise ChatClientError(f"lost the connection to goldpath at {self.url}: {exc}") from None

    async def login(self) -> None:
        """Get a token (making the account first with ``register``); errors say what to do."""
        body = {"username": self._username, "password": self._password}
        if self._register:
            response = await self._request("POST", "/auth/register", json=body)
            if response.status_code not in (201, 409):  # 409: the account exists already
                raise ChatClientError(f"could not register {self._username!r}: {_why(response)}")
        response = await self._request("POST", "/auth/login", json=body)
        if response.status_code == 401:
            # Never "add --register": the server does not say whether the account exists,
            # and a mistyped password is the likelier reason.
            raise ChatClientError("login failed: wrong username or password")
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "a few")
            raise ChatClientError(
                f"too many failed logins for {self._username!r}; try again in {wait} seconds"
            )
        if response.status_code != 200:
            raise ChatClientError(f"login failed: {_why(response)}")
        self.token = str(response.json()["access_token"])

    async def _get(self, path: str, what: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = await self._request("GET", path, headers=headers, params=params)
        if response.status_code != 200:
            raise ChatClientError(f"could not {what}: {_why(response)}")
        return response.json()

    async def run(self, run_id: str) -> Mapping[str, Any]:
        """``GET /runs/{run_id}``."""
        body: Mapping[str, Any] = await self._get(f"/runs/{run_id}", f"reload run {run_id}")
        return body

    async def pending_request(self, run_id: str) -> Mapping[str, Any] | None:
        """The stored ``approval_requested`` event of the run's call that has no
        ``approval_resolved`` yet; None when there is none (or it is not stored yet)."""
        pending: dict[str, Mapping[str, Any]] = {}
        after = 0
        while True:
            events = await self._get(
                f"/runs/{run_id}/events", f"read the events of run {run_id}", after=after
            )
            if not events:
                break
            for event in events:
                data = event.get("data") or {}
                if event.get("type") == "approval_requested":
                    pending[str(data.get("call_id"))] = event
                elif event.get("type") == "approval_resolved":
                    pending.pop(str(data.get("call_id")), None)
            after = int(events[-1]["offset"])
        return next(reversed(pending.values()), None)


def _why(response: httpx.Response) -> str:
    """The server's error message, or the HTTP status when the body has none."""
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        error = response.json()["error"]
        return f"{error['message']} (HTTP {response.status_code} {error['code']})"
    return f"HTTP {response.status_code}"


def elapsed_ms(start: object, end: object) -> float:
    with contextlib.suppress(TypeError, ValueError):
        began = datetime.fromisoformat(str(start))
        ended = datetime.fromisoformat(str(end))
        return (ended - began).total_seconds() * 1000
    return 0.0
