"""The engine's approvals: a run pauses at a call that needs a person, and any engine of
the user continues it from what was stored, without asking or running anything twice."""

from __future__ import annotations

import dataclasses
import json

import pytest
from tests.helpers import history, make_context, make_factory, types_of, user_stream

from goldpath.engine import PausedRun, RunLimits
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import ScriptedModel, TextDelta, ToolCall
from goldpath.tools import ApprovalAnswer, tool

pytestmark = pytest.mark.unit

ran: list[str] = []


@tool(requires_approval=True)
async def delete_note(title: str) -> str:
    """Delete the note with this title."""
    ran.append(title)
    return f"deleted {title}"


@tool
async def count(text: str) -> int:
    """Count the characters of text."""
    return len(text)


SCRIPT = ScriptedModel(
    [
        [TextDelta("Let me see. "), ToolCall("c1", "count", {"text": "abc"})],
        [ToolCall("c2", "delete_note", {"title": "groceries"})],
        [TextDelta("Done: "), TextDelta("as you asked.")],
    ]
)


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


async def _paused(limits: RunLimits | None = None) -> tuple[ExecutionEngineFactory, PausedRun]:
    factory = make_factory(SCRIPT, tools=[delete_note, count], limits=limits)
    context = make_context()
    stored: list[PausedRun] = []

    async def on_pause(paused: PausedRun) -> None:
        stored.append(PausedRun.from_json(paused.to_json()))  # as the store gives it back

    outcome = await factory.create_for_user(context).run("supervisor", "tidy up", on_pause=on_pause)
    assert outcome.status == "waiting"
    assert len(stored) == 1
    return factory, stored[0]


async def test_a_call_that_needs_approval_pauses_the_run_before_it_runs() -> None:
    factory, paused = await _paused()
    assert (paused.call_id, paused.tool, dict(paused.args)) == (
        "c2",
        "delete_note",
        {"title": "groceries"},
    )
    assert ran == []
    events = await history(user_stream(factory, "user_1"))
    assert types_of(events) == [
        "agent_started",
        "message_delta",
        "tool_executing",
        "tool_completed",
        "approval_requested",
    ]
    assert json.loads(events[-1].json)["data"] == {
        "call_id": "c2",
        "tool": "delete_note",
        "args": {"title": "groceries"},
    }


async def test_an_approved_call_runs_once_and_the_run_goes_on_without_repeating_itself() -> None:
    factory, paused = await _paused()
    engine = factory.create_for_user(make_context())
    outcome = await engine.resume(paused, ApprovalAnswer("approve"))
    assert outcome.status == "ok"
    assert outcome.text == "Done: as you asked."  # the supervisor answers with its last turn
    assert ran == ["groceries"]
    events = await history(user_stream(factory, "user_1"))
    kinds = types_of(events)
    assert kinds == [
        "agent_started",
        "message_delta",
        "tool_executing",
        "tool_completed",
        "approval_requested",
        "approval_resolved",
        "tool_executing",
        "tool_completed",
        "message_delta",
        "message_delta",
        "agent_completed",
    ]
    resolved = json.loads(events[5].json)["data"]
    assert resolved == {"call_id": "c2", "decision": "approve", "by": "user"}


async def test_edited_args_are_what_the_tool_runs_with_and_what_the_events_show() -> None:
    factory, paused = await _paused()
    engine = factory.create_for_user(make_context())
    await engine.resume(paused, ApprovalAnswer("approve", args={"title": "old todo"}))
    assert ran == ["old todo"]
    events = await history(user_stream(factory, "user_1"))
    executing = [json.loads(e.json)["data"] for e in events if e.type == "tool_executing"]
    assert executing[-1]["args"] == {"title": "old todo"}


async def test_a_rejected_call_never_runs_and_the_model_is_told_why() -> None:
    factory, paused = await _paused()
    engine = factory.create_for_user(make_context())
    outcome = await engine.resume(paused, ApprovalAnswer("reject", reason="keep it"))
    assert outcome.status == "ok"
    assert ran == []
    events = await history(user_stream(factory, "user_1"))
    after = types_of(events)[5:]
    assert after == ["approval_resolved", "message_delta", "message_delta", "agent_completed"]


async def test_an_unanswered_call_ends_the_run_with_timeout() -> None:
    factory, paused = await _paused()
    engine = factory.create_for_user(make_context())
    outcome = await engine.end_paused(paused, "timeout")
    assert outcome.status == "timeout"
    events = await history(user_stream(factory, "user_1"))
    assert types_of(events)[5:] == ["approval_resolved", "agent_completed"]
    assert json.loads(events[5].json)["data"]["by"] == "timeout"
    assert ran == []


async def test_without_on_pause_the_run_ends_with_an_error_that_says_why() -> None:
    factory = make_factory(SCRIPT, tools=[delete_note, count])
    outcome = await factory.create_for_user(make_context()).run("supervisor", "tidy up")
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "needs a person's approval" in outcome.error
    assert ran == []


async def test_the_run_timeout_counts_only_the_time_the_run_worked() -> None:
    factory, paused = await _paused(RunLimits(run_timeout=5))
    assert paused.elapsed_ms < 5000
    engine = factory.create_for_user(make_context())
    outcome = await engine.resume(paused, ApprovalAnswer("approve"))
    assert outcome.status == "ok"


async def test_a_continued_run_that_fails_while_it_replays_still_sends_agent_completed() -> None:
    factory, paused = await _paused()
    # The agent does not repeat itself (its first call has another id than recorded).
    diverged = dataclasses.replace(paused, results=(("c_other", paused.results[0][1]),))
    engine = factory.create_for_user(make_context())
    outcome = await engine.resume(diverged, ApprovalAnswer("approve"))
    assert outcome.status == "error"
    assert ran == []
    kinds = types_of(await history(user_stream(factory, "user_1")))
    assert kinds[-1] == "agent_completed"
    assert kinds.count("agent_completed") == 1
