"""Events of PROTOCOL.md as typed values, and the emitter that puts them on a user's stream."""

from goldpath.events._emitter import Emitter, EventSink, EventSinks
from goldpath.events._types import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    ApprovalDecision,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    EventData,
    MessageDelta,
    RunStatus,
    ToolCompleted,
    ToolExecuting,
    decode_event,
    frame_parts,
    utc_timestamp,
)

__all__ = [
    "AgentCompleted",
    "AgentStarted",
    "AgentThinking",
    "ApprovalDecision",
    "ApprovalRequested",
    "ApprovalResolved",
    "Emitter",
    "Event",
    "EventData",
    "EventSink",
    "EventSinks",
    "MessageDelta",
    "RunStatus",
    "ToolCompleted",
    "ToolExecuting",
    "decode_event",
    "frame_parts",
    "utc_timestamp",
]
