"""events/_types.py: the six event types of PROTOCOL.md, their envelope and their JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    Event,
    EventData,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
    decode_event,
    utc_timestamp,
)

pytestmark = pytest.mark.unit

TS = "2026-01-02T03:04:05.123456Z"


def _event(data: EventData, offset: int = 42) -> Event:
    return Event(offset, "run_1", "thread_1", "supervisor", TS, data)


def _frame(data: EventData) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_event(data).json)
    return parsed


# Each case: the value, and the exact frame PROTOCOL.md says goes on the wire.
CASES: list[tuple[EventData, str, dict[str, Any]]] = [
    (AgentStarted("What is 17 * 23?"), "agent_started", {"message": "What is 17 * 23?"}),
    (AgentThinking("hmm"), "agent_thinking", {"thought": "hmm"}),
    (
        ToolExecuting("c1", "calculator", {"expression": "17*23"}),
        "tool_executing",
        {"call_id": "c1", "tool": "calculator", "args": {"expression": "17*23"}},
    ),
    (
        ToolCompleted("c1", "calculator", ok=True, duration_ms=1.5, result=391),
        "tool_completed",
        {"call_id": "c1", "tool": "calculator", "ok": True, "result": 391, "duration_ms": 1.5},
    ),
    (
        ToolCompleted("c1", "calculator", ok=False, duration_ms=0.25, error="boom"),
        "tool_completed",
        {"call_id": "c1", "tool": "calculator", "ok": False, "error": "boom", "duration_ms": 0.25},
    ),
    (MessageDelta("391"), "message_delta", {"delta": "391"}),
    (
        AgentCompleted("ok", duration_ms=12.0, text="17 * 23 = 391."),
        "agent_completed",
        {"status": "ok", "result": {"text": "17 * 23 = 391."}, "duration_ms": 12.0},
    ),
    (
        AgentCompleted("error", duration_ms=3.0, error="ModelError: x"),
        "agent_completed",
        {"status": "error", "error": "ModelError: x", "duration_ms": 3.0},
    ),
    (
        AgentCompleted("cancelled", duration_ms=3.0),
        "agent_completed",
        {"status": "cancelled", "duration_ms": 3.0},
    ),
    (
        AgentCompleted("ok", 5.0, text="hi", input_tokens=120, output_tokens=13),
        "agent_completed",
        {
            "status": "ok",
            "result": {"text": "hi"},
            "duration_ms": 5.0,
            "usage": {"input_tokens": 120, "output_tokens": 13},
        },
    ),
    (
        AgentCompleted("timeout", duration_ms=3.0, text="partial", error="too long"),
        "agent_completed",
        {
            "status": "timeout",
            "result": {"text": "partial"},
            "error": "too long",
            "duration_ms": 3.0,
        },
    ),
]


@pytest.mark.parametrize(("data", "wire", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_frame_matches_the_protocol(data: EventData, wire: str, expected: dict[str, Any]) -> None:
    assert data.type == wire
    assert _frame(data) == {
        "type": wire,
        "offset": 42,
        "run_id": "run_1",
        "thread_id": "thread_1",
        "agent": "supervisor",
        "ts": TS,
        "data": expected,
    }


def test_the_six_wire_names() -> None:
    assert {cls.type for cls in (AgentStarted, AgentThinking, ToolExecuting)} | {
        cls.type for cls in (ToolCompleted, MessageDelta, AgentCompleted)
    } == {
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "agent_completed",
    }


def test_envelope_fields() -> None:
    event = _event(MessageDelta("x"), offset=7)
    assert (event.offset, event.run_id, event.thread_id, event.agent, event.ts) == (
        7,
        "run_1",
        "thread_1",
        "supervisor",
        TS,
    )
    assert event.type == "message_delta"
    assert list(json.loads(event.json)) == [
        "type",
        "offset",
        "run_id",
        "thread_id",
        "agent",
        "ts",
        "data",
    ]


@pytest.mark.parametrize(("data", "wire", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_values_are_frozen(data: EventData, wire: str, expected: dict[str, Any]) -> None:
    field = dataclasses.fields(data)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(data, field, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        _event(data).offset = 1  # type: ignore[misc]


def test_json_is_encoded_once() -> None:
    event = _event(AgentThinking("x"))
    first = event.json
    assert event.json is first
    assert json.loads(first)["data"] == {"thought": "x"}


def test_json_is_compact_and_keeps_unicode() -> None:
    text = _event(MessageDelta("héllo ✓")).json
    assert ", " not in text
    assert '": ' not in text
    assert "héllo ✓" in text


def test_non_json_tool_results_are_shown_as_text() -> None:
    frame = _frame(ToolCompleted("c", "t", ok=True, duration_ms=0.0, result={1, 2} - {1, 2}))
    assert frame["data"]["result"] == "set()"


@pytest.mark.parametrize(("data", "wire", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_decode_round_trips_text(data: EventData, wire: str, expected: dict[str, Any]) -> None:
    event = _event(data)
    decoded = decode_event(event.json)
    assert decoded == event
    assert decoded.json is event.json


@pytest.mark.parametrize(("data", "wire", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_decode_round_trips_parsed(data: EventData, wire: str, expected: dict[str, Any]) -> None:
    event = _event(data)
    decoded = decode_event(json.loads(event.json))
    assert decoded == event
    assert json.loads(decoded.json) == json.loads(event.json)


def test_decode_rejects_an_unknown_type() -> None:
    frame = json.loads(_event(MessageDelta("x")).json)
    frame["type"] = "agent_exploded"
    with pytest.raises(ValueError, match="agent_exploded"):
        decode_event(frame)
    with pytest.raises(ValueError, match="unknown event type"):
        decode_event(json.dumps(frame))


def test_decode_rejects_a_frame_missing_fields() -> None:
    frame = json.loads(_event(MessageDelta("x")).json)
    del frame["run_id"]
    with pytest.raises(KeyError):
        decode_event(frame)


def test_utc_timestamp_is_iso_utc_with_microseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utc_timestamp())


def test_non_finite_numbers_never_reach_the_wire() -> None:
    nan, inf = float("nan"), float("inf")
    event = Event(
        1, "r", "t", "a", "ts",
        ToolCompleted(call_id="c", tool="x", ok=True, duration_ms=1.0, result={"v": [nan, inf]}),
    )  # fmt: skip
    assert json.loads(event.json)["data"]["result"] == {"v": ["nan", "inf"]}
    assert "NaN" not in event.json
    assert "Infinity" not in event.json
