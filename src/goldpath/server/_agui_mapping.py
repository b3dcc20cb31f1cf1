"""goldpath events as AG-UI 1.0 events: a pure, deterministic mapping, one run at a time.

`RunMapping` turns the events of one run, in order, into AG-UI events, each with its own
offset within the run (1, 2, 3, ...): one goldpath event may become several AG-UI events,
so the offsets are counted here, never taken from the user stream. The same goldpath
events always give the same AG-UI events, ids and offsets, so a live stream and a replay
of the run agree event for event, which is what lets a client resume at any offset.

The events are exactly AG-UI 1.0's camelCase shapes (``ag_ui.core`` in the tests): the
optional fields that have no value are left out, never sent as ``null``. Each is encoded
to JSON once, here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
)
from goldpath.store import MessageRecord

__all__ = [
    "APPROVAL_SCHEMA",
    "PROTOCOL_VERSION",
    "AguiEvent",
    "RunMapping",
    "interrupted",
    "messages_snapshot",
    "sse",
]

PROTOCOL_VERSION = "1.0"
"""The AG-UI version goldpath speaks, declared in every RUN_STARTED."""

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "editedArgs": {
            "type": "object",
            "description": "approve only: the arguments the tool runs with instead (all of them)",
        },
        "reason": {"type": "string", "description": "reject only: told to the model"},
    },
    "required": ["approved"],
}
"""The answer a goldpath interrupt expects in ``resume[].payload``: AG-UI 1.0's approve-with-
edits pattern for tool calls, and a reason for a rejection."""

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_string = json.encoder.encode_basestring  # the same string escaping as _encode


@dataclass(frozen=True, slots=True)
class AguiEvent:
    """One AG-UI event of a run: its offset within the run, its type and its JSON."""

    offset: int
    type: str
    json: str


def _timestamp(ts: str) -> int:
    """A goldpath ``ts`` (ISO 8601 UTC) as AG-UI's timestamp: milliseconds since the epoch."""
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def _tool_content(event: ToolCompleted) -> str:
    """What a tool returned, as the text of its tool message: a string as it is, any other
    value as JSON, a failure as its error."""
    if not event.ok:
        return f"error: {event.error}"
    if isinstance(event.result, str):
        return event.result
    return json.dumps(event.result, ensure_ascii=False, default=str)


def _usage(data: AgentCompleted) -> dict[str, Any]:
    """AG-UI's ``usage`` of a run whose model reported its tokens: one entry, since a
    goldpath run has one model."""
    if data.input_tokens is None or data.output_tokens is None:
        return {}
    tokens = {
        "inputTokens": data.input_tokens,
        "outputTokens": data.output_tokens,
        "totalTokens": data.input_tokens + data.output_tokens,
    }
    return {"usage": [tokens]}


class RunMapping:
    """The AG-UI events of one AG-UI run, made from goldpath events in the order they came.

    A goldpath run that waits for approvals is several AG-UI runs: the first ends with
    RUN_FINISHED, outcome ``interrupt``, at ``approval_requested``; each answer
    (``approval_resolved``) starts the next, with RUN_STARTED, which the ``resume`` of the
    next ``POST /ag-ui`` asked for. ``after_answers`` picks one of them: 0 the first, n the
    one after the run's n-th answer (the events before it make nothing).

    ``thread_id`` and ``run_id`` are the client's own ids of that AG-UI run, echoed by
    RUN_STARTED and by RUN_FINISHED; the ids of messages, reasoning and tool results are
    made from ``run_id`` and the offset of the event that opens them, so they too are the
    same on every replay.
    """

    __slots__ = (
        "_answered",
        "_offset",
        "_run_id",
        "_skip",
        "_text",
        "_thread_id",
        "closing",
        "finished",
    )

    def __init__(self, thread_id: str, run_id: str, *, after_answers: int = 0) -> None:
        self._thread_id = thread_id
        self._run_id = run_id
        self._skip = after_answers
        self._offset = 0
        self._text: str | None = None  # the id of the assistant message being streamed
        self._answered: str | None = None  # the call asked for in the AG-UI run before
        self.finished = False
        """True once this AG-UI run's RUN_FINISHED or RUN_ERROR has been made."""
        self.closing = 0
        """How many of the last events made close the AG-UI run: its RUN_FINISHED or
        RUN_ERROR and, for an interrupt, the call it asks about (which a MESSAGES_SNAPSHOT
        of the thread does not hold)."""

    @property
    def offset(self) -> int:
        """The offset of the last AG-UI event made, 0 before the first."""
        return self._offset

    def map(self, event: Event) -> list[AguiEvent]:
        """The AG-UI events for the next goldpath event of the run: one or more."""
        out: list[AguiEvent] = []
        data = event.data
        if self.finished or (self._skip and not self._starts(data)):
            return out  # another AG-UI run's
        stamp = _timestamp(event.ts)
        if self._skip:  # the run ended before the answer this AG-UI run continues from
            self._skip = 0
            self._started(out, stamp)
        if isinstance(data, MessageDelta):
            if self._text is None:
                self._text = f"{self._run_id}.text.{self._offset + 1}"
                self._add(
                    out,
                    "TEXT_MESSAGE_START",
                    stamp,
                    {"messageId": self._text, "role": "assistant"},
                )
            # Most events are deltas: written out rather than through the encoder, as the
            # user stream writes its delta frames (the same JSON, in a third of the time).
            self._offset += 1
            text = (
                f'{{"type":"TEXT_MESSAGE_CONTENT","timestamp":{stamp},'
                f'"messageId":{_string(self._text)},"delta":{_string(data.delta)}}}'
            )
            out.append(AguiEvent(self._offset, "TEXT_MESSAGE_CONTENT", text))
            return out
        if self._text is not None:  # anything but a delta ends the message being streamed
            self._add(out, "TEXT_MESSAGE_END", stamp, {"messageId": self._text})
            self._text = None
        if isinstance(data, AgentStarted):
            self._started(out, stamp)
        elif isinstance(data, ApprovalResolved):
            if self._offset == 0:  # the answer the resume of this AG-UI run gave
                self._answered = data.call_id
                self._started(out, stamp)
        elif isinstance(data, AgentThinking):
            self._thought(out, stamp, data.thought)
        elif isinstance(data, ToolExecuting):
            if data.call_id == self._answered:
                self._answered = None  # the call went out before the interrupt: AG-UI 1.0
                return out  # sends only its TOOL_CALL_RESULT in the resumed run
            self._call(out, stamp, data.call_id, data.tool, data.args)
        elif isinstance(data, ApprovalRequested):
            self._call(out, stamp, data.call_id, data.tool, data.args)
            self._interrupt(out, stamp, data)
        elif isinstance(data, ToolCompleted):
            self._add(
                out,
                "TOOL_CALL_RESULT",
                stamp,
                {
                    "messageId": f"{self._run_id}.tool.{self._offset + 1}",
                    "toolCallId": data.call_id,
                    "content": _tool_content(data),
                    "role": "tool",
                },
            )
        elif isinstance(data, AgentCompleted):
            self._end(out, stamp, data)
        return out

    def _starts(self, data: object) -> bool:
        """Whether ``data`` starts the AG-UI run being made: the run's n-th answer, or its
        end when that answer never came (a continued run that failed before it: the
        response still ends)."""
        if isinstance(data, ApprovalResolved):
            self._skip -= 1
            return self._skip == 0
        return isinstance(data, AgentCompleted)

    def _started(self, out: list[AguiEvent], stamp: int) -> None:
        run = {"threadId": self._thread_id, "runId": self._run_id}
        self._add(out, "RUN_STARTED", stamp, {**run, "protocolVersion": PROTOCOL_VERSION})

    def _call(
        self, out: list[AguiEvent], stamp: int, call_id: str, tool: str, args: Mapping[str, Any]
    ) -> None:
        call = {"toolCallId": call_id}
        self._add(out, "TOOL_CALL_START", stamp, {**call, "toolCallName": tool})
        self._add(out, "TOOL_CALL_ARGS", stamp, {**call, "delta": _encode(dict(args))})
        self._add(out, "TOOL_CALL_END", stamp, call)

    def _interrupt(self, out: list[AguiEvent], stamp: int, data: ApprovalRequested) -> None:
        """RUN_FINISHED of a run that waits for a person: AG-UI 1.0's interrupt outcome,
        bound to the call just sent (goldpath asks for one call at a time)."""
        self.finished = True
        self.closing = 4  # TOOL_CALL_START, _ARGS, _END and this
        interrupt = {
            "id": data.call_id,
            "reason": "tool_call",
            "message": f"Approve the call of the tool {data.tool!r}?",
            "toolCallId": data.call_id,
            "responseSchema": APPROVAL_SCHEMA,
            "metadata": {"tool": data.tool, "args": dict(data.args)},
        }
        run = {"threadId": self._thread_id, "runId": self._run_id}
        outcome = {"type": "interrupt", "interrupts": [interrupt]}
        self._add(out, "RUN_FINISHED", stamp, {**run, "outcome": outcome})

    def _thought(self, out: list[AguiEvent], stamp: int, thought: str) -> None:
        """A thought is one reasoning span holding one reasoning message."""
        span = f"{self._run_id}.reasoning.{self._offset + 1}"
        message = {"messageId": f"{span}.message"}
        self._add(out, "REASONING_START", stamp, {"messageId": span})
        self._add(out, "REASONING_MESSAGE_START", stamp, {**message, "role": "reasoning"})
        self._add(out, "REASONING_MESSAGE_CONTENT", stamp, {**message, "delta": thought})
        self._add(out, "REASONING_MESSAGE_END", stamp, message)
        self._add(out, "REASONING_END", stamp, {"messageId": span})

    def _end(self, out: list[AguiEvent], stamp: int, data: AgentCompleted) -> None:
        """RUN_FINISHED for a run that succeeded or was cancelled, RUN_ERROR otherwise."""
        self.finished = True
        self.closing = 1
        usage = _usage(data)
        if data.status in ("ok", "cancelled"):
            outcome = {"type": "success" if data.status == "ok" else "cancelled"}
            run = {"threadId": self._thread_id, "runId": self._run_id}
            self._add(out, "RUN_FINISHED", stamp, {**run, "outcome": outcome, **usage})
            return
        reason = data.error or (
            "the run took longer than allowed" if data.status == "timeout" else "the run failed"
        )
        self._add(out, "RUN_ERROR", stamp, {"message": reason, "code": data.status, **usage})

    def _add(self, out: list[AguiEvent], kind: str, stamp: int, fields: dict[str, Any]) -> None:
        self._offset += 1
        out.append(
            AguiEvent(self._offset, kind, _encode({"type": kind, "timestamp": stamp, **fields}))
        )


def sse(epoch: str, event: AguiEvent) -> str:
    """One SSE event: ``id: <epoch>:<offset>`` and the AG-UI event as its data."""
    return f"id: {epoch}:{event.offset}\ndata: {event.json}\n\n"


def interrupted(last_id: str, reason: str) -> str:
    """The SSE event that ends a response whose stream failed while the run goes on: a
    RUN_ERROR (code ``stream_interrupted``) that is not an event of the run. It takes no
    offset of its own: its id is the last one sent, where a resume picks the run up."""
    message = f"{reason}; the run goes on: resume it from the last event id"
    error = _encode({"type": "RUN_ERROR", "message": message, "code": "stream_interrupted"})
    return f"id: {last_id}\ndata: {error}\n\n"


def messages_snapshot(messages: Sequence[MessageRecord]) -> str:
    """MESSAGES_SNAPSHOT of a thread's stored messages (users' and the assistant's answers)."""
    return _encode(
        {
            "type": "MESSAGES_SNAPSHOT",
            "messages": [{"id": m.message_id, "role": m.role, "content": m.text} for m in messages],
        }
    )
