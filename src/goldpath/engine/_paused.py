"""A run paused for approval, as stored data, and the replay that continues it anywhere.

A paused run holds no task. What continues it is data: the agent, the message and the
history it started with, each model answer and each tool result it saw, and the pending
call. To continue, the engine runs the agent again from its start: `ReplayModel` gives it
the recorded model answers, the dispatcher the recorded tool results, and `ReplaySink`
holds back the events it emits until it passes the point where it paused (they were sent
before). Nothing is asked or run twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from goldpath.events import Event, EventData, EventSink
from goldpath.models import ChatModel, Message, ModelOutput, TextDelta, Thought, ToolCall, Usage
from goldpath.tools import RunApprovals, ToolResult

__all__ = ["PausedRun", "ReplayModel", "ReplaySink"]

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class PausedRun:
    """Everything needed to continue a run that waits for approval of ``call_id``."""

    agent: str
    message: str
    history: tuple[Message, ...]
    turns: tuple[tuple[ModelOutput, ...], ...]
    """Each model call's outputs, in order."""
    results: tuple[tuple[str, ToolResult], ...]
    """Each tool call's id and result, in the order the calls were made."""
    call_id: str
    tool: str
    args: Mapping[str, Any]
    elapsed_ms: float
    """How long the run worked before it paused (waiting does not count)."""
    usage: Usage | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "agent": self.agent,
                "message": self.message,
                "history": [[m.role, m.content] for m in self.history],
                "turns": [[_output(o) for o in turn] for turn in self.turns],
                "results": [[cid, r.ok, r.value, r.error] for cid, r in self.results],
                "call": [self.call_id, self.tool, self.args],
                "elapsed_ms": self.elapsed_ms,
                "usage": None
                if self.usage is None
                else [self.usage.input_tokens, self.usage.output_tokens],
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> PausedRun:
        data = json.loads(text)
        if data.get("format") != _FORMAT:
            raise ValueError(f"a paused run stored in format {data.get('format')!r}")
        call_id, tool, args = data["call"]
        usage = data["usage"]
        return cls(
            agent=data["agent"],
            message=data["message"],
            history=tuple(Message(role, content) for role, content in data["history"]),
            turns=tuple(tuple(_from_output(o) for o in turn) for turn in data["turns"]),
            results=tuple(
                (cid, ToolResult(ok=ok, value=value, error=error))
                for cid, ok, value, error in data["results"]
            ),
            call_id=call_id,
            tool=tool,
            args=args,
            elapsed_ms=data["elapsed_ms"],
            usage=None if usage is None else Usage(*usage),
        )


def _output(output: ModelOutput) -> list[Any]:
    if isinstance(output, TextDelta):
        return ["text", output.text]
    if isinstance(output, Thought):
        return ["thought", output.text]
    return ["call", output.id, output.name, output.arguments]


def _from_output(data: list[Any]) -> ModelOutput:
    if data[0] == "text":
        return TextDelta(data[1])
    if data[0] == "thought":
        return Thought(data[1])
    return ToolCall(data[1], data[2], data[3])


class ReplayModel:
    """The run's model, recording each answer; a continued run gets its recorded answers
    back first, then asks the model."""

    __slots__ = ("_approvals", "_asked", "_model", "turns")

    def __init__(
        self,
        model: ChatModel,
        approvals: RunApprovals,
        turns: Sequence[Sequence[ModelOutput]] = (),
    ) -> None:
        self._model = model
        self._approvals = approvals
        self.turns: list[list[ModelOutput]] = [list(turn) for turn in turns]
        self._asked = 0

    @property
    def name(self) -> str:
        return self._model.name

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        index = self._asked
        self._asked += 1
        if index < len(self.turns):
            for output in self.turns[index]:
                yield output
            return
        self._approvals.replaying = False
        outputs: list[ModelOutput] = []
        self.turns.append(outputs)
        async for output in self._model.stream(messages, tools):
            outputs.append(output)
            yield output


class ReplaySink:
    """The run's sink, holding back what a continued run emits while it replays."""

    __slots__ = ("_approvals", "_sink")

    def __init__(self, sink: EventSink, approvals: RunApprovals) -> None:
        self._sink = sink
        self._approvals = approvals

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        if self._approvals.replaying:  # sent before the run paused: not again
            return Event(0, run_id, thread_id, agent, ts, data)
        return await self._sink.append(run_id, thread_id, agent, ts, data)
