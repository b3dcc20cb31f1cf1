"""Checks that what goldpath sends is exactly AG-UI 1.0, judged by the official Python models.

`check_event` validates one event with ``ag_ui.core``'s models and demands that it
re-serialises to the very same JSON (nothing missing, nothing extra, no nulls, no
snake_case); `check_run` adds the sequence rules of a run that AG-UI's own verifier applies
(one RUN_STARTED first, one RUN_FINISHED or RUN_ERROR last, every message, reasoning span and
tool call opened before it is used and closed before the run ends) and goldpath's offsets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from ag_ui.core import BaseEvent, Event, MessagesSnapshotEvent
from pydantic import BaseModel, TypeAdapter

__all__ = ["SseEvent", "check_event", "check_run", "read_sse"]

_EVENT: TypeAdapter[Any] = TypeAdapter(Event)
TERMINAL = {"RUN_FINISHED", "RUN_ERROR"}


@dataclass(frozen=True)
class SseEvent:
    """One SSE event as received: its ``id`` (``<epoch>:<offset>``) and its parsed data."""

    id: str | None
    data: dict[str, Any]

    @property
    def offset(self) -> int:
        assert self.id is not None
        return int(self.id.rsplit(":", 1)[1])

    @property
    def epoch(self) -> str:
        assert self.id is not None
        return self.id.rsplit(":", 1)[0]

    @property
    def type(self) -> str:
        kind: str = self.data["type"]
        return kind


def parse_sse(text: str) -> list[SseEvent]:
    """The events of an SSE body (only ``id`` and ``data`` fields are expected)."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            assert name in ("id", "data"), f"unexpected SSE field in {block!r}"
            assert name not in fields, f"repeated SSE field in {block!r}"
            fields[name] = value
        events.append(SseEvent(fields.get("id"), json.loads(fields["data"])))
    return events


async def read_sse(response: httpx.Response) -> list[SseEvent]:
    """Every event of a streamed SSE response, read to its end."""
    assert response.status_code == 200, await response.aread()
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse((await response.aread()).decode())


def _no_extras(value: Any, where: str) -> None:
    if isinstance(value, BaseModel):
        assert not value.model_extra, (
            f"{where}: fields AG-UI 1.0 does not have: {value.model_extra}"
        )
        for name in type(value).model_fields:
            _no_extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _no_extras(item, f"{where}[{n}]")


def _no_nulls_or_snake_case(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert "_" not in key, f"{where}: snake_case key {key!r}"
            assert item is not None, f"{where}: null at {key!r}"
            if key != "metadata":  # AG-UI's metadata is open by key: anything goes in it
                _no_nulls_or_snake_case(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _no_nulls_or_snake_case(item, where)


def check_event(data: dict[str, Any]) -> BaseEvent:
    """``data`` is one AG-UI 1.0 event, exactly: returns it as the official model."""
    kind = data.get("type")
    _no_nulls_or_snake_case(data, str(kind))
    model: BaseEvent = _EVENT.validate_python(data)
    _no_extras(model, str(kind))
    again = json.loads(model.model_dump_json(by_alias=True))
    assert again == data, f"{kind} does not re-serialise to what was sent:\n{again}\n{data}"
    return model


def check_run(
    events: Sequence[SseEvent], *, first: int = 1, answered: str | None = None
) -> list[BaseEvent]:
    """The events of one response: each valid AG-UI 1.0, offsets ``first``, ``first+1``, ...
    in one epoch, a whole run's sequence rules kept, and exactly one terminal event, last.

    A response that resumes mid-run (``first`` above 1) may use messages and calls opened
    before it; a MESSAGES_SNAPSHOT first stands for the events before it and takes the
    offset of the last of them. A run that a resume started gets the result of the call
    ``answered``, sent (and ended) by the run its interrupt ended.
    """
    assert events, "no events"
    models = [check_event(e.data) for e in events]
    assert len({e.epoch for e in events}) == 1, "one epoch per response"
    offsets = [e.offset for e in events]
    snapshot = isinstance(models[0], MessagesSnapshotEvent)
    if snapshot:
        offsets = offsets[1:]
        first = events[0].offset + 1
    assert offsets == list(range(first, first + len(offsets))), offsets
    kinds = [e.type for e in events]
    assert kinds[-1] in TERMINAL, kinds
    assert sum(k in TERMINAL for k in kinds) == 1, kinds
    whole = first == 1 and not snapshot
    assert (
        (kinds.count("RUN_STARTED") == 1 and kinds[0] == "RUN_STARTED")
        if whole
        else ("RUN_STARTED" not in kinds)
    ), kinds
    _check_nesting([e.data for e in events], whole, answered)
    return models


def _check_nesting(
    events: Sequence[dict[str, Any]], whole: bool, answered: str | None = None
) -> None:
    """Open before use, close before the end: AG-UI's verifier rules for what goldpath sends."""
    opened = {"text": set[str](), "tool": set[str](), "span": set[str](), "reasoning": set[str]()}
    seen: dict[str, set[str]] = {"text": set(), "tool": set(), "span": set(), "reasoning": set()}
    rules = {
        "TEXT_MESSAGE_START": ("text", "messageId", "open"),
        "TEXT_MESSAGE_CONTENT": ("text", "messageId", "use"),
        "TEXT_MESSAGE_END": ("text", "messageId", "close"),
        "TOOL_CALL_START": ("tool", "toolCallId", "open"),
        "TOOL_CALL_ARGS": ("tool", "toolCallId", "use"),
        "TOOL_CALL_END": ("tool", "toolCallId", "close"),
        "REASONING_START": ("span", "messageId", "open"),
        "REASONING_END": ("span", "messageId", "close"),
        "REASONING_MESSAGE_START": ("reasoning", "messageId", "open"),
        "REASONING_MESSAGE_CONTENT": ("reasoning", "messageId", "use"),
        "REASONING_MESSAGE_END": ("reasoning", "messageId", "close"),
    }
    ended_calls: set[str] = set() if answered is None else {answered}
    for event in events:
        rule = rules.get(event["type"])
        if rule is None:
            if event["type"] == "TOOL_CALL_RESULT":
                call = event["toolCallId"]
                assert call in ended_calls or not whole, f"result for a call not ended: {call}"
            continue
        kind, key, action = rule
        ident = event[key]
        if action == "open":
            assert ident not in seen[kind], f"{kind} {ident} opened twice"
            opened[kind].add(ident)
            seen[kind].add(ident)
        elif ident not in opened[kind]:
            # A resumed response may continue what was opened before it started.
            assert not whole, f"{kind} {ident} used before it opened"
            assert ident not in seen[kind], f"{kind} {ident} used after it closed"
            seen[kind].add(ident)
            if action == "use":
                opened[kind].add(ident)
            elif kind == "tool":
                ended_calls.add(ident)
        elif action == "close":
            opened[kind].discard(ident)
            if kind == "tool":
                ended_calls.add(ident)
    for kind, still in opened.items():
        assert not still, f"{kind} still open at the end of the run: {still}"
