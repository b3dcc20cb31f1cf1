"""`MCPTools`: the tools of one MCP server, over stdio or streamable HTTP, shared or per user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, ToolError
from goldpath.tools._tool import Tool
from goldpath.tools.mcp._session import Session

logger = logging.getLogger("goldpath.tools.mcp")

__all__ = ["Credentials", "MCPTools"]

Credentials = Callable[[UserExecutionContext], Mapping[str, str]]
"""A user's own credentials for a server configured per user: HTTP headers for a URL,
environment variables for a command. Called once per user, with the run's context."""

MAX_USER_SESSIONS = 100
"""Per-user sessions kept open at most, by default; the least recently used idle one is
closed to make room (a stdio server's process stops), and reopened when its user calls."""

LIST_PAGES = 100
"""At most this many pages of ``tools/list``: a server that pages forever cannot hang
start-up."""


class MCPTools:
    """The tools of one MCP server, for `create_app(tools=[...])` (a `ToolSource`).

    At start-up (`open`) goldpath connects, lists the server's tools and gives each one to
    agents as a goldpath tool with the schema the server declares. Calls go through the run's
    tool dispatcher like any tool's. One session is opened per process and shared by every
    call; with ``per_user``, each user gets a session of their own, opened with that user's
    credentials on their first call, and no other user's call goes through it; at most
    ``max_user_sessions`` stay open (the least recently used idle one is closed to make
    room). The tools are listed once, at start-up, with the server's own ``headers`` or
    ``env``.

    A server that cannot be reached, does not answer within ``connect_timeout``, or fails a
    call gives the model an error result (a `ToolError`); at start-up, a server whose tools
    cannot be listed stops the server with a `ConfigurationError` naming it.
    """

    __slots__ = (
        "_call_timeout",
        "_closing",
        "_connect_timeout",
        "_credentials",
        "_env",
        "_headers",
        "_max_user_sessions",
        "_shared",
        "_stdio",
        "_url",
        "_users",
        "name",
    )

    def __init__(
        self,
        name: str,
        *,
        stdio: StdioServerParameters | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        per_user: Credentials | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float | None = None,
        max_user_sessions: int = MAX_USER_SESSIONS,
    ) -> None:
        if (stdio is None) == (url is None):
            raise ConfigurationError(
                f"MCP server {name!r} needs a command (MCPTools.stdio) or a URL (MCPTools.http)"
            )
        self.name = name
        self._stdio = stdio
        self._url = url
        self._headers = dict(headers or {})
        self._env = dict(stdio.env or {}) if stdio is not None else {}
        self._credentials = per_user
        self._connect_timeout = connect_timeout
        self._call_timeout = call_timeout
        self._max_user_sessions = max_user_sessions
        self._shared: Session | None = None
        self._users: dict[str, Session] = {}  # least recently used first
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def stdio(
        cls,
        name: str,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        per_user: Credentials | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float | None = None,
        max_user_sessions: int = MAX_USER_SESSIONS,
    ) -> MCPTools:
        """A server goldpath starts as ``command args``, speaking MCP on its stdin and stdout.

        ``env`` is added to a minimal environment (the SDK passes on only safe variables);
        with ``per_user``, each user's process also gets that user's variables.
        """
        parameters = StdioServerParameters(
            command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
        )
        return cls(
            name,
            stdio=parameters,
            per_user=per_user,
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
            max_user_sessions=max_user_sessions,
        )

    @classmethod
    def http(
        cls,
        name: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        per_user: Credentials | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float | None = None,
        max_user_sessions: int = MAX_USER_SESSIONS,
    ) -> MCPTools:
        """A server at a streamable-HTTP ``url``; ``headers`` (e.g. ``Authorization``) go with
        every request, and with ``per_user`` each user's own headers too."""
        return cls(
            name,
            url=url,
            headers=headers,
            per_user=per_user,
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
            max_user_sessions=max_user_sessions,
        )

    @property
    def per_user(self) -> bool:
        return self._credentials is not None

    @property
    def user_sessions(self) -> list[str]:
        """The users with a session of their own open, least recently used first."""
        return list(self._users)

    async def open(self) -> list[Tool]:
        """Connect and list the server's tools; `ConfigurationError` if that fails."""
        session = self._session_with({})
        try:
            listed = await self._list(session)
        except ToolError as exc:
            await session.close()
            raise ConfigurationError(f"{exc} (at start-up, listing its tools)") from None
        if self.per_user:
            await session.close()  # listing only: each user's calls get their own session
        else:
            self._shared = session
        return [self._tool(item) for item in listed]

    async def close(self) -> None:
        """Close every session this server has open."""
        sessions = [*self._users.values(), *([self._shared] if self._shared else [])]
        self._users.clear()
        self._shared = None
        await asyncio.gather(*(session.close() for session in sessions), *self._closing)

    async def call(
        self, context: UserExecutionContext, tool: str, arguments: dict[str, Any]
    ) -> Any:
        """Call ``tool`` in the session of the context's user (or the shared one)."""
        session = self._session_for(context)
        session.busy += 1
        try:
            client = await session.client()
            result = await client.call_tool(
                tool, arguments, read_timeout_seconds=self._call_timeout
            )
        except ToolError:
            raise
        except Exception as exc:  # the transport's words (addresses, errors) are the operator's
            logger.error(
                "MCP server %r failed the call to %s: %s",
                self.name,
                tool,
                exc,
                extra=context.log_fields(),
            )
            raise ToolError(
                f"MCP server {self.name!r} failed the call; the details are in the server's log"
            ) from None
        finally:
            session.busy -= 1
        text = "\n".join(
            block.text for block in result.content if isinstance(block, mcp_types.TextContent)
        )
        if result.is_error:
            raise ToolError(text or f"MCP server {self.name!r} reported an error without text")
        if text or result.structured_content is None:
            return text
        return result.structured_content

    def _session_for(self, context: UserExecutionContext) -> Session:
        if self._credentials is None:
            if self._shared is None:
                raise ToolError(f"MCP server {self.name!r} is not open")
            return self._shared
        session = self._users.pop(context.user_id, None)
        if session is None:
            session = self._session_with(dict(self._credentials(context)))
        self._users[context.user_id] = session  # now the most recently used
        if len(self._users) > self._max_user_sessions:
            self._close_least_recently_used()
        return session

    def _close_least_recently_used(self) -> None:
        """Close the least recently used session with no call in flight, never the one just
        handed out (if all are busy, more stay open for a while)."""
        for user_id, session in list(self._users.items())[:-1]:
            if session.busy == 0:
                del self._users[user_id]
                closing = asyncio.create_task(session.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
                return

    def _session_with(self, credentials: Mapping[str, str]) -> Session:
        """A session (not connected yet) with ``credentials`` over the server's own."""
        label = f"MCP server {self.name!r}"
        if self._stdio is not None:
            parameters = self._stdio.model_copy(update={"env": {**self._env, **credentials}})
            return Session(lambda: Client(parameters), label, self._connect_timeout)
        assert self._url is not None
        url, headers = self._url, {**self._headers, **credentials}

        @asynccontextmanager
        async def connect() -> AsyncIterator[Client]:
            http: httpx2.AsyncClient = create_mcp_http_client(headers=headers)
            async with http, Client(streamable_http_client(url, http_client=http)) as client:
                yield client

        return Session(connect, label, self._connect_timeout)

    async def _list(self, session: Session) -> list[mcp_types.Tool]:
        client = await session.client()
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                for _ in range(LIST_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    listed.extend(page.tools)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except TimeoutError:
            raise ToolError(
                f"MCP server {self.name!r}: it did not list its tools within "
                f"{self._connect_timeout:g} s"
            ) from None
        except Exception as exc:
            raise ToolError(f"MCP server {self.name!r}: {exc}") from None
        return listed

    def _tool(self, listed: mcp_types.Tool) -> Tool:
        name = listed.name

        async def call(context: UserExecutionContext, arguments: dict[str, Any]) -> Any:
            return await self.call(context, name, arguments)

        return Tool.from_schema(
            name=name,
            description=listed.description or "",
            parameters=listed.input_schema,
            function=call,
            timeout=self._call_timeout,
        )
