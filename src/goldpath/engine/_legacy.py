"""What an engine made through the legacy API takes from the process-wide factory.

Legacy code constructs engines itself (``ExecutionEngine(registry, bridge, context)``); the
engine sits below the factory, so the factory hands its ``create_for_user`` down at
configuration (`set_process_engines`) and a legacy engine borrows the stream, model, tools
and limits of the engine the factory would make for that user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError
from goldpath.events import Emitter, Event, EventData, EventSink

if TYPE_CHECKING:
    from goldpath.engine._engine import UserExecutionEngine

__all__ = ["ProcessEngines", "SilentSink", "legacy_parts", "set_process_engines"]

ProcessEngines = Callable[[UserExecutionContext], "UserExecutionEngine"]
"""The process-wide factory's ``create_for_user``, which `create_from_legacy` borrows."""


class SilentSink:
    """A sink that numbers events and keeps none: the legacy anonymous bridge writes here."""

    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = 0

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        self._offset += 1
        return Event(self._offset, run_id, thread_id, agent, ts, data)


_process_engines: ProcessEngines | None = None


def set_process_engines(engines: ProcessEngines | None) -> None:
    """Called by `configure_execution_engine_factory` only: part of the process-wide accessor
    (the engine sits below the factory, so the factory hands itself down)."""
    global _process_engines
    _process_engines = engines


def legacy_parts(
    websocket_bridge: Emitter | None, user_context: UserExecutionContext | None
) -> tuple[UserExecutionContext, EventSink, UserExecutionEngine | None]:
    """The context, the sink and the process-wide factory's engine (None without one) of a
    legacy engine.

    The bridge is the user's emitter; without one, the user's stream is taken from the
    process-wide factory, and without a context either, events go nowhere. Raises
    `ConfigurationError` when the bridge belongs to another user than the context, which
    would write one user's run to another's stream, and when a context comes with neither
    a bridge nor a configured factory.
    """
    if websocket_bridge is not None and user_context is not None:
        bridge_user = websocket_bridge.context.user_id
        if bridge_user != user_context.user_id:
            raise ConfigurationError(
                f"the websocket bridge belongs to user {bridge_user!r} but the context to "
                f"{user_context.user_id!r}; make the bridge for the context's user"
            )
    context = user_context
    if context is None:
        context = (
            websocket_bridge.context
            if websocket_bridge is not None
            else UserExecutionContext.create("anonymous", "legacy")
        )
    if user_context is not None and websocket_bridge is None and _process_engines is None:
        raise ConfigurationError(
            f"no websocket bridge was given for user {context.user_id!r} and no process-wide "
            "factory is configured to find the user's stream; call "
            "goldpath.configure_execution_engine_factory(...) at start-up, or pass the bridge"
        )
    # The process-wide factory's engine for this user carries its stream, model, tools
    # and limits; only the registry is the caller's.
    made = _process_engines(context) if _process_engines is not None else None
    sink: EventSink
    if websocket_bridge is not None:
        sink = websocket_bridge._sink  # the bridge is the user's emitter: same stream
    elif user_context is None or made is None:
        sink = SilentSink()
    else:
        sink = made._sink
    return context, sink, made
