"""The AG-UI response stream: filtered to its run, and never ending without a terminal event."""

from __future__ import annotations

import json

from tests.agui import check_event, parse_sse

from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    EventData,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
)
from goldpath.server._agui import agui_id, live
from goldpath.server._agui_mapping import RunMapping
from goldpath.stream import InMemoryStreamHub

TS = "2026-12-04T18:00:00.000000Z"


async def _body(run_id: str, *events: Event) -> str:
    subscription = await InMemoryStreamHub().for_user("u1").subscribe()
    for event in events:
        subscription.deliver(event)
    chunks = [chunk async for chunk in live(subscription, run_id, RunMapping("t", "r"))]
    assert subscription.closed_reason is not None  # the response let go of the stream
    return "".join(chunks)


async def test_a_lost_stream_still_ends_with_run_error_at_the_last_id() -> None:
    subscription = await InMemoryStreamHub().for_user("u1").subscribe()
    body = live(subscription, "run_a", RunMapping("t", "r"))
    subscription.deliver(Event(1, "run_b", "thr", "supervisor", TS, MessageDelta("not this run")))
    subscription.deliver(Event(2, "run_a", "thr", "supervisor", TS, AgentStarted("hi")))
    chunks = [await anext(body)]
    subscription.close("too_slow")
    chunks += [chunk async for chunk in body]
    events = parse_sse("".join(chunks))
    assert [(e.id, e.type) for e in events] == [
        (events[0].epoch + ":1", "RUN_STARTED"),
        (events[0].epoch + ":1", "RUN_ERROR"),
    ]
    check_event(events[1].data)
    assert events[1].data["code"] == "stream_interrupted"
    assert "too_slow" in events[1].data["message"]


async def test_a_failure_while_mapping_ends_with_run_error() -> None:
    broken = Event(1, "run_a", "thr", "supervisor", "not a time", AgentStarted("hi"))
    events = parse_sse(await _body("run_a", broken))
    assert [e.type for e in events] == ["RUN_ERROR"]
    assert events[0].offset == 0
    assert json.loads(json.dumps(events[0].data))["message"].startswith("the stream failed")


def test_client_ids_are_scoped_to_the_user() -> None:
    assert agui_id("thr", "usr_1", "t") == agui_id("thr", "usr_1", "t")
    assert agui_id("thr", "usr_1", "t") != agui_id("thr", "usr_2", "t")
    assert agui_id("thr", "usr_1", "t") != agui_id("thr", "usr_1", "u")
    assert agui_id("run", "usr_1", "t").startswith("run_")
    assert len(agui_id("thr", "usr_1", "x" * 10_000)) == 36


def test_a_tool_result_is_text_and_a_string_stays_as_it_is() -> None:
    mapping = RunMapping("t", "r")
    results = [
        mapping.map(Event(n, "run", "thr", "a", TS, ToolCompleted("c", "tool", True, 1.0, result)))
        for n, result in enumerate(["12:00 UTC", {"a": [1, "é"]}], 1)
    ]
    failed = mapping.map(
        Event(3, "run", "thr", "a", TS, ToolCompleted("c", "t", False, 1.0, error="boom"))
    )
    contents = [json.loads(out[0].json)["content"] for out in [*results, failed]]
    assert contents == ["12:00 UTC", '{"a": [1, "é"]}', "error: boom"]


def test_the_runs_token_usage_is_ag_uis_usage() -> None:
    for status, kind in [("ok", "RUN_FINISHED"), ("timeout", "RUN_ERROR")]:
        mapping = RunMapping("t", "r")
        data = AgentCompleted(status, 1.0, input_tokens=12, output_tokens=5)  # type: ignore[arg-type]
        out = mapping.map(Event(1, "run", "thr", "a", TS, data))
        event = json.loads(out[-1].json)
        check_event(event)
        assert event["type"] == kind
        assert event["usage"] == [{"inputTokens": 12, "outputTokens": 5, "totalTokens": 17}]


def test_a_delta_is_the_same_json_the_encoder_writes() -> None:
    """Deltas are written out by hand, for speed: byte for byte what json would write."""
    mapping = RunMapping("t", 'run "1" \\ é')
    for delta in ["plain", '"quoted" \\ back\nslash \u2028 é 😀 \x00 \x1f', ""]:
        out = mapping.map(Event(1, "run", "thr", "a", TS, MessageDelta(delta)))[-1]
        parsed = json.loads(out.json)
        assert parsed["delta"] == delta
        assert out.json == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
        check_event(parsed)


def test_a_run_that_waited_is_one_ag_ui_run_per_answer() -> None:
    """Each answer starts the next AG-UI run; the events of the others make nothing."""
    steps: list[EventData] = [
        AgentStarted("hi"),
        MessageDelta("Tidying."),
        ApprovalRequested("c1", "delete_note", {"title": "a"}),
        ApprovalResolved("c1", "approve", "user"),
        ToolExecuting("c1", "delete_note", {"title": "a"}),
        ToolCompleted("c1", "delete_note", True, 1.0, result="deleted"),
        ApprovalRequested("c2", "delete_note", {"title": "b"}),
        ApprovalResolved("c2", "reject", "user"),
        MessageDelta("Done."),
        AgentCompleted("ok", 1.0, text="Done."),
    ]
    events = [Event(n, "run_a", "thr", "supervisor", TS, data) for n, data in enumerate(steps, 1)]
    runs = []
    for n in range(3):
        mapping = RunMapping("t", f"r{n}", after_answers=n)
        runs.append([agui for event in events for agui in mapping.map(event)])
        assert mapping.finished
    kinds = [[agui.type for agui in run] for run in runs]
    assert kinds == [
        [
            "RUN_STARTED",
            "TEXT_MESSAGE_START",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_END",
            "TOOL_CALL_START",
            "TOOL_CALL_ARGS",
            "TOOL_CALL_END",
            "RUN_FINISHED",
        ],
        ["RUN_STARTED", "TOOL_CALL_RESULT", *kinds[0][4:]],
        [
            "RUN_STARTED",
            "TEXT_MESSAGE_START",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_END",
            "RUN_FINISHED",
        ],
    ]
    for n, run in enumerate(runs):
        assert [agui.offset for agui in run] == list(range(1, len(run) + 1))
        for agui in run:
            check_event(json.loads(agui.json))
        assert json.loads(run[0].json)["runId"] == f"r{n}"
    ends = [json.loads(run[-1].json)["outcome"] for run in runs]
    assert [end["type"] for end in ends] == ["interrupt", "interrupt", "success"]
    assert [end["interrupts"][0]["id"] for end in ends[:2]] == ["c1", "c2"]


def test_a_continued_run_that_ends_before_its_answer_still_ends_its_ag_ui_run() -> None:
    """A resume's response waits for the answer's approval_resolved; a run that ends without
    it (it failed as it continued) still gives that response its start and its end."""
    mapping = RunMapping("t", "r2", after_answers=1)
    asked = ApprovalRequested("c1", "delete_note", {})
    assert mapping.map(Event(1, "run_a", "thr", "supervisor", TS, asked)) == []  # sent before
    failed = AgentCompleted("error", 1.0, error="the run failed")
    out = mapping.map(Event(2, "run_a", "thr", "supervisor", TS, failed))
    assert [(agui.offset, agui.type) for agui in out] == [(1, "RUN_STARTED"), (2, "RUN_ERROR")]
    assert mapping.finished
    for agui in out:
        check_event(json.loads(agui.json))
