"""A small Server-Sent Events reader for the tests: ``id``, ``event`` and ``data`` fields."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.conftest import FRAME_TIMEOUT


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: dict[str, Any]


class SseClient:
    """One open ``GET /stream``: every read is time-bounded."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> SseEvent:
        return await asyncio.wait_for(self._next(), FRAME_TIMEOUT)

    async def _next(self) -> SseEvent:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if "data" in fields:
                    return SseEvent(
                        fields.get("id"), fields.get("event", "message"), json.loads(fields["data"])
                    )
                continue
            if line.startswith(":"):
                continue  # a comment (keep-alive)
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    async def until(self, done: Callable[[SseEvent], bool]) -> list[SseEvent]:
        events = []
        while True:
            event = await self.next()
            events.append(event)
            if done(event):
                return events


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, headers: dict[str, str], last_event_id: str | None = None
) -> AsyncIterator[SseClient]:
    """``GET /stream``, asserting it opened; the response is closed when the block ends."""
    sent = dict(headers)
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    async with http.stream("GET", "/stream", headers=sent) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseClient(response)
