"""The event types of PROTOCOL.md (its six, and v2's two approval events) as immutable
values, and the envelope that carries them.

The ``type`` of each class is its wire name and never changes once published. Each event
is encoded to JSON exactly once, when the user stream gives it its offset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeAlias

__all__ = [
    "AgentCompleted",
    "AgentStarted",
    "AgentThinking",
    "ApprovalDecision",
    "ApprovalRequested",
    "ApprovalResolved",
    "Event",
    "EventData",
    "MessageDelta",
    "RunStatus",
    "ToolCompleted",
    "ToolExecuting",
    "decode_event",
    "frame_parts",
    "utc_timestamp",
]

RunStatus: TypeAlias = Literal["ok", "error", "cancelled", "timeout"]

ApprovalDecision: TypeAlias = Literal["approve", "reject"]

# One encoder, built once: compact separators, non-JSON tool results shown as text, and
# NaN/Infinity refused (they are not JSON: a browser's JSON.parse fails on the frame).
_strict_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False
).encode


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by its text ("nan", "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _encode(value: Any) -> str:
    try:
        return _strict_encode(value)
    except ValueError:  # a non-finite float somewhere in a tool's arguments or result
        return _strict_encode(_finite(value))


# The same string escaping that encoder uses, for the envelope's fields.
_string = json.encoder.encode_basestring


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (now by default; naive means UTC) as the ISO 8601 UTC string goldpath
    sends everywhere: microseconds and ``Z``."""
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    else:
        moment = moment.astimezone(UTC)
    # isoformat is twice as fast as strftime, and this runs once per event.
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass(frozen=True, slots=True)
class AgentStarted:
    """A run began; ``message`` is the user message that started it."""

    type: ClassVar[str] = "agent_started"
    message: str

    def to_data(self) -> dict[str, Any]:
        return {"message": self.message}


@dataclass(frozen=True, slots=True)
class AgentThinking:
    """Something the agent is considering, shown to the user as it happens."""

    type: ClassVar[str] = "agent_thinking"
    thought: str

    def to_data(self) -> dict[str, Any]:
        return {"thought": self.thought}


@dataclass(frozen=True, slots=True)
class ToolExecuting:
    """A tool call started; its ``tool_completed`` will carry the same ``call_id``."""

    type: ClassVar[str] = "tool_executing"
    call_id: str
    tool: str
    args: Mapping[str, Any]

    def to_data(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "tool": self.tool, "args": self.args}


@dataclass(frozen=True, slots=True)
class ToolCompleted:
    """A tool call ended: ``result`` when ``ok``, ``error`` otherwise."""

    type: ClassVar[str] = "tool_completed"
    call_id: str
    tool: str
    ok: bool
    duration_ms: float
    result: Any = None
    error: str | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"call_id": self.call_id, "tool": self.tool, "ok": self.ok}
        if self.ok:
            data["result"] = self.result
        else:
            data["error"] = self.error
        data["duration_ms"] = self.duration_ms
        return data


@dataclass(frozen=True, slots=True)
class MessageDelta:
    """A piece of the answer, as the model produces it."""

    type: ClassVar[str] = "message_delta"
    delta: str

    def to_data(self) -> dict[str, Any]:
        return {"delta": self.delta}


@dataclass(frozen=True, slots=True)
class AgentCompleted:
    """The run ended; every run has exactly one, last.

    ``input_tokens`` and ``output_tokens`` are the run's model usage, sent as ``usage``,
    when its model reported it.
    """

    type: ClassVar[str] = "agent_completed"
    status: RunStatus
    duration_ms: float
    text: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.text is not None:
            data["result"] = {"text": self.text}
        if self.error is not None:
            data["error"] = self.error
        data["duration_ms"] = self.duration_ms
        if self.input_tokens is not None:
            data["usage"] = {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
            }
        return data


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    """The run waits for a person to approve the call ``call_id`` of ``tool`` with ``args``.

    It stands for the call until it is answered: the call's ``tool_executing`` comes only
    after its ``approval_resolved``, and only when it was approved.
    """

    type: ClassVar[str] = "approval_requested"
    call_id: str
    tool: str
    args: Mapping[str, Any]

    def to_data(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "tool": self.tool, "args": self.args}


@dataclass(frozen=True, slots=True)
class ApprovalResolved:
    """The call ``call_id`` was approved or rejected, ``by`` its user or by the time limit
    (a call nobody answered in time is rejected, and its run ends with ``timeout``)."""

    type: ClassVar[str] = "approval_resolved"
    call_id: str
    decision: ApprovalDecision
    by: Literal["user", "timeout"]

    def to_data(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "decision": self.decision, "by": self.by}


EventData: TypeAlias = (
    AgentStarted
    | AgentThinking
    | ToolExecuting
    | ToolCompleted
    | MessageDelta
    | AgentCompleted
    | ApprovalRequested
    | ApprovalResolved
)


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a user's stream: its offset, the run it belongs to, and its data.

    ``json`` is the wire frame, encoded once when the event is made. ``epoch`` is the
    stream epoch its offset belongs to, set by the stream that gave the offset (empty for
    an event read back from a frame, which does not carry it).
    """

    offset: int
    run_id: str
    thread_id: str
    agent: str
    ts: str
    data: EventData
    json: str = ""
    epoch: str = ""

    def __post_init__(self) -> None:
        if not self.json:
            head, tail = frame_parts(self.run_id, self.thread_id, self.agent, self.ts, self.data)
            object.__setattr__(self, "json", f"{head}{self.offset}{tail}")

    @property
    def type(self) -> str:
        return self.data.type


def frame_parts(
    run_id: str, thread_id: str, agent: str, ts: str, data: EventData
) -> tuple[str, str]:
    """An event's wire frame, split where its offset goes: ``head + str(offset) + tail``.

    `Event` joins the parts when it is made; a backend that learns the offset elsewhere (the
    Redis one, inside its append script) joins them there, so the JSON is still encoded
    once, in Python, and carries the offset the backend assigned.
    """
    # Written out rather than built as a dict: this runs once per event, and the envelope's
    # fields are all strings and an int. Deltas, most events, skip the encoder's machinery.
    body = (
        f'{{"delta":{_string(data.delta)}}}'
        if isinstance(data, MessageDelta)
        else _encode(data.to_data())
    )
    head = f'{{"type":"{data.type}","offset":'
    tail = (
        f',"run_id":{_string(run_id)},"thread_id":{_string(thread_id)},'
        f'"agent":{_string(agent)},"ts":{_string(ts)},"data":{body}}}'
    )
    return head, tail


def _data_from_wire(kind: str, data: Mapping[str, Any]) -> EventData:
    if kind == "agent_started":
        return AgentStarted(message=data["message"])
    if kind == "agent_thinking":
        return AgentThinking(thought=data["thought"])
    if kind == "tool_executing":
        return ToolExecuting(call_id=data["call_id"], tool=data["tool"], args=data["args"])
    if kind == "tool_completed":
        return ToolCompleted(
            call_id=data["call_id"],
            tool=data["tool"],
            ok=data["ok"],
            duration_ms=data["duration_ms"],
            result=data.get("result"),
            error=data.get("error"),
        )
    if kind == "message_delta":
        return MessageDelta(delta=data["delta"])
    if kind == "agent_completed":
        result = data.get("result")
        usage = data.get("usage")
        return AgentCompleted(
            status=data["status"],
            duration_ms=data["duration_ms"],
            text=result["text"] if result is not None else None,
            error=data.get("error"),
            input_tokens=usage["input_tokens"] if usage is not None else None,
            output_tokens=usage["output_tokens"] if usage is not None else None,
        )
    if kind == "approval_requested":
        return ApprovalRequested(call_id=data["call_id"], tool=data["tool"], args=data["args"])
    if kind == "approval_resolved":
        return ApprovalResolved(call_id=data["call_id"], decision=data["decision"], by=data["by"])
    raise ValueError(f"unknown event type {kind!r}")


def decode_event(frame: str | Mapping[str, Any], epoch: str = "") -> Event:
    """The `Event` of a wire frame (text or parsed), keeping the text when given; ``epoch``
    is the stream epoch the frame was read from, when known.

    Raises ``ValueError`` or ``KeyError`` for a frame that is not an event of PROTOCOL.md.
    """
    text = frame if isinstance(frame, str) else ""
    parsed: Mapping[str, Any] = json.loads(frame) if isinstance(frame, str) else frame
    return Event(
        offset=parsed["offset"],
        run_id=parsed["run_id"],
        thread_id=parsed["thread_id"],
        agent=parsed["agent"],
        ts=parsed["ts"],
        data=_data_from_wire(parsed["type"], parsed["data"]),
        json=text,
        epoch=epoch,
    )
