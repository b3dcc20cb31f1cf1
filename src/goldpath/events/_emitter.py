"""The per-run emitter, and the narrow interface of the stream it writes to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from goldpath.events._types import Event, EventData, utc_timestamp

if TYPE_CHECKING:
    from goldpath.context import UserExecutionContext

__all__ = ["Emitter", "EventSink", "EventSinks"]


class EventSink(Protocol):
    """One user's stream, as an emitter sees it: it can only append."""

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event: ...


class EventSinks(Protocol):
    """Hands out each user's sink; the factory asks it once per engine."""

    def for_user(self, user_id: str) -> EventSink: ...


class Emitter:
    """Stamps a run's events and appends them to its own user's stream.

    It is bound to one context and one user's sink when made, and no method takes a user,
    so it cannot reach another user's stream.
    """

    __slots__ = ("_agent", "_context", "_sink")

    def __init__(self, context: UserExecutionContext, sink: EventSink, agent: str) -> None:
        self._context = context
        self._sink = sink
        self._agent = agent

    @property
    def context(self) -> UserExecutionContext:
        return self._context

    @property
    def agent(self) -> str:
        return self._agent

    async def emit(self, data: EventData) -> Event:
        """Append one event of this run; returns it with its offset."""
        context = self._context
        return await self._sink.append(
            context.run_id, context.thread_id, self._agent, utc_timestamp(), data
        )

    def for_agent(self, agent: str) -> Emitter:
        """The same run's emitter, speaking for another agent (a sub-agent it called)."""
        return Emitter(self._context, self._sink, agent)
