"""The terminal client's rendering of each frame, its URLs, and its bookkeeping of offsets."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rich.console import Console

from goldpath.cli._client import (
    ChatClientError,
    ChatSession,
    _Run,
    websocket_url,
)
from goldpath.cli._render import EventRenderer, describe, milliseconds

pytestmark = pytest.mark.unit

RUN = "run_1"
THREAD = "thr_1"


def event(kind: str, offset: int, run_id: str = RUN, **data: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "offset": offset,
        "run_id": run_id,
        "thread_id": THREAD,
        "agent": "supervisor",
        "ts": "2025-01-01T00:00:00.000000Z",
        "data": data,
    }


def shown(frame: dict[str, Any]) -> str:
    line = describe(frame)
    assert line is not None
    return line.plain


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, highlight=False), out


def test_agent_started_shows_a_start_marker_and_the_agent() -> None:
    assert shown(event("agent_started", 1, message="hi")) == "▶ started supervisor"


def test_thinking_is_dim_and_shows_the_thought() -> None:
    line = describe(event("agent_thinking", 2, thought="This is arithmetic."))
    assert line is not None
    assert line.plain == "… thinking: This is arithmetic."
    assert str(line.style) == "dim"


def test_tool_executing_shows_the_tool_and_its_arguments_as_json() -> None:
    frame = event(
        "tool_executing", 3, call_id="c1", tool="calculator", args={"expression": "17 * 23"}
    )
    assert shown(frame) == '⚙ calculator {"expression": "17 * 23"}'


def test_tool_completed_ok_shows_the_result_and_duration() -> None:
    frame = event(
        "tool_completed", 4, call_id="c1", tool="calculator", ok=True, result=391, duration_ms=0.123
    )
    assert shown(frame) == "✓ calculator → 391 (0.1 ms)"


def test_tool_completed_with_a_structured_result_shows_json() -> None:
    frame = event(
        "tool_completed", 4, call_id="c1", tool="clock", ok=True, result={"h": 1}, duration_ms=12.4
    )
    assert shown(frame) == '✓ clock → {"h": 1} (12 ms)'


def test_a_long_tool_result_is_cut() -> None:
    frame = event("tool_completed", 4, call_id="c", tool="t", ok=True, result="x" * 500)
    assert len(shown(frame)) < 250
    assert shown(frame).endswith("… (0.0 ms)")


def test_tool_completed_with_an_error_shows_a_cross_and_the_error() -> None:
    frame = event(
        "tool_completed",
        4,
        call_id="c1",
        tool="calculator",
        ok=False,
        error="division by zero",
        duration_ms=0.2,
    )
    assert shown(frame) == "✗ calculator error: division by zero (0.2 ms)"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"status": "ok", "result": {"text": "391"}, "duration_ms": 12.3},
            "■ completed ok (12 ms)",
        ),
        ({"status": "cancelled", "duration_ms": 3.0}, "■ completed cancelled (3.0 ms)"),
        (
            {"status": "error", "error": "model failed", "duration_ms": 40},
            "■ completed error (40 ms): model failed",
        ),
        ({"status": "timeout", "duration_ms": 120000}, "■ completed timeout (120000 ms)"),
    ],
)
def test_agent_completed_shows_the_status_and_duration(data: dict[str, Any], expected: str) -> None:
    assert shown(event("agent_completed", 9, **data)) == expected


def test_agent_completed_is_green_when_ok_and_red_otherwise() -> None:
    ok = describe(event("agent_completed", 9, status="ok", duration_ms=1))
    failed = describe(event("agent_completed", 9, status="error", duration_ms=1))
    assert ok is not None
    assert failed is not None
    assert "green" in str(ok.style)
    assert "red" in str(failed.style)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("rate_limited", "rate limited: too many messages or runs at once"),
        ("too_large", "message too large: shorten it"),
        ("something_new", "something_new"),
    ],
)
def test_error_frames_explain_the_code(code: str, hint: str) -> None:
    text = shown({"type": "error", "code": code, "message": "server says"})
    assert text.startswith(f"✗ {hint}")
    assert text.endswith(f"({code}: server says)")


def test_approval_events_show_the_call_and_the_decision() -> None:
    requested = event("approval_requested", 4, call_id="c1", tool="delete_note",
                      args={"title": "groceries"})  # fmt: skip
    assert shown(requested) == '⏸ approval needed: delete_note {"title": "groceries"}'
    resolved = {"call_id": "c1", "by": "user"}
    assert shown(event("approval_resolved", 5, decision="approve", **resolved)) == "✓ approved"
    assert shown(event("approval_resolved", 5, decision="reject", **resolved)) == "✗ rejected"
    timed_out = event("approval_resolved", 5, call_id="c1", decision="reject", by="timeout")
    assert shown(timed_out) == "✗ rejected: nobody answered in time"


def test_resume_answers_are_shown() -> None:
    assert "3 missed event(s) replayed" in shown({"type": "resumed", "replayed": 3})
    assert "history_expired" in shown({"type": "resync", "reason": "history_expired"})


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ready", "user_id": "u", "connection_id": "c", "stream": {}},
        {"type": "run_accepted", "run_id": RUN},
        {"type": "pong"},
        {"type": "from_a_later_version"},
        event("message_delta", 5, delta="hi"),
    ],
)
def test_frames_without_a_line_of_their_own(frame: dict[str, Any]) -> None:
    assert describe(frame) is None


def test_deltas_stream_inline_and_the_next_line_starts_fresh() -> None:
    console, out = plain_console()
    renderer = EventRenderer(console)
    for frame in [
        event("agent_started", 1, message="What is 17 * 23?"),
        event("message_delta", 2, delta="17 * 23 "),
        event("message_delta", 3, delta="= "),
        event("message_delta", 4, delta="391."),
        event("agent_completed", 5, status="ok", duration_ms=12),
    ]:
        renderer.render(frame)
    assert out.getvalue() == "▶ started supervisor\n17 * 23 = 391.\n■ completed ok (12 ms)\n"


def test_markup_in_a_model_answer_is_printed_as_text() -> None:
    console, out = plain_console()
    EventRenderer(console).render(event("message_delta", 1, delta="[bold]x[/bold]"))
    assert out.getvalue() == "[bold]x[/bold]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.123, "0.1 ms"), (9.94, "9.9 ms"), (12.4, "12 ms"), (None, "0.0 ms"), ("x", "0.0 ms")],
)
def test_milliseconds(value: object, expected: str) -> None:
    assert milliseconds(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws"),
        ("https://chat.example.com/", "wss://chat.example.com/ws"),
        ("http://host/prefix/", "ws://host/prefix/ws"),
    ],
)
def test_websocket_url(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "http://"])
def test_a_url_that_is_not_http_is_refused_clearly(url: str) -> None:
    with pytest.raises(ChatClientError, match="--url must look like http://host:port"):
        websocket_url(url)


@pytest.fixture
async def session() -> AsyncIterator[tuple[ChatSession, io.StringIO]]:
    console, out = plain_console()
    chat = ChatSession("http://127.0.0.1:9", "alice", "password1", EventRenderer(console))
    yield chat, out
    await chat.close()


async def test_events_seen_before_a_reconnect_are_shown_once(
    session: tuple[ChatSession, io.StringIO],
) -> None:
    chat, out = session
    run = _Run(client_msg_id="m1", message="What is 17 * 23?")
    await chat._handle(
        {"type": "run_accepted", "run_id": RUN, "thread_id": THREAD, "client_msg_id": "m1"}, run
    )
    await chat._handle(event("agent_started", 1, message="What is 17 * 23?"), run)
    await chat._handle(event("agent_thinking", 2, thought="arithmetic"), run)
    # the socket dropped; the replay after `resume` overlaps what was already shown
    await chat._handle({"type": "resumed", "epoch": "e", "offset": 3, "replayed": 2}, run)
    await chat._handle(event("agent_thinking", 2, thought="arithmetic"), run)
    await chat._handle(event("agent_completed", 3, status="ok", duration_ms=1), run)
    assert out.getvalue().count("thinking") == 1
    assert run.status == "ok"
    assert run.thread_id == THREAD


async def test_events_of_another_run_of_the_same_user_are_not_shown(
    session: tuple[ChatSession, io.StringIO],
) -> None:
    chat, out = session
    run = _Run(client_msg_id="m1", message="hi", run_id=RUN)
    await chat._handle(event("agent_started", 1, run_id="other", message="from another tab"), run)
    await chat._handle(event("agent_completed", 2, run_id="other", status="ok"), run)
    assert out.getvalue() == ""
    assert run.status is None


async def test_a_run_whose_acceptance_was_lost_is_found_by_its_message(
    session: tuple[ChatSession, io.StringIO],
) -> None:
    chat, _out = session
    run = _Run(client_msg_id="m1", message="What is 17 * 23?")
    await chat._handle(event("agent_started", 1, message="What is 17 * 23?"), run)
    assert run.run_id == RUN


async def test_an_error_answering_the_chat_ends_it_as_rejected(
    session: tuple[ChatSession, io.StringIO],
) -> None:
    chat, out = session
    run = _Run(client_msg_id="m1", message="hi")
    frame = {"type": "error", "code": "rate_limited", "message": "slow down", "ref": "m1"}
    await chat._handle(frame, run)
    assert run.status == "rejected"
    assert "rate limited" in out.getvalue()


async def test_an_error_about_something_else_does_not_end_the_run(
    session: tuple[ChatSession, io.StringIO],
) -> None:
    chat, _out = session
    run = _Run(client_msg_id="m1", message="hi")
    await chat._handle({"type": "error", "code": "not_found", "message": "x", "ref": "zz"}, run)
    assert run.status is None
