"""Approvals over AG-UI: a run that waits for a person ends its AG-UI run with RUN_FINISHED,
outcome ``interrupt``; the next ``POST /ag-ui`` with ``resume`` answers it, and the same
goldpath run goes on as a new AG-UI run, to its end or to the next interrupt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ag_ui.core import RunAgentInput, RunFinishedEvent, RunFinishedInterruptOutcome

from goldpath import tool
from goldpath.models import ScriptedModel, TextDelta, ToolCall
from goldpath.server import create_app
from goldpath.server._agui import agui_id
from goldpath.server._agui_mapping import APPROVAL_SCHEMA
from tests.agui import SseEvent, check_run
from tests.e2e.conftest import Server, User, make_settings, new_user, open_ws, running
from tests.e2e.test_agui import ag_ui, run_input
from tests.e2e.test_agui_resume import resume, same

pytestmark = pytest.mark.e2e

deleted: list[str] = []


@tool(requires_approval=True)
async def delete_note(title: str) -> str:
    """Delete the note with this title."""
    deleted.append(title)
    return f"deleted {title!r}"


MODEL = ScriptedModel(
    [
        [TextDelta("Tidying up."), ToolCall("call_a", "delete_note", {"title": "groceries"})],
        [ToolCall("call_b", "delete_note", {"title": "drafts"})],
        [TextDelta("All done.")],
    ]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The stream keeps one event: every replay of a run comes from the store.
    settings = make_settings(
        tmp_path_factory.mktemp("agui-approvals"), history_events=1, history_seconds=0.001
    )
    with running(settings, create_app(settings, tools=[delete_note], model=MODEL)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _nothing_deleted() -> None:
    deleted.clear()


def resume_input(thread_id: str, run_id: str, *entries: dict[str, Any]) -> dict[str, Any]:
    """The client's next RunAgentInput: the same thread, a new run, its resume entries."""
    body = run_input("tidy my notes", thread_id, run_id)
    body["resume"] = list(entries)
    RunAgentInput.model_validate(body)  # what the official models accept
    return body


def approve(call_id: str, **payload: Any) -> dict[str, Any]:
    return {"interruptId": call_id, "status": "resolved", "payload": {"approved": True, **payload}}


def interrupt_of(events: list[SseEvent]) -> dict[str, Any]:
    """The one interrupt of a response that ends with one, checked against AG-UI's models."""
    finished = events[-1]
    assert finished.type == "RUN_FINISHED"
    model = RunFinishedEvent.model_validate(finished.data)
    assert isinstance(model.outcome, RunFinishedInterruptOutcome)
    assert len(finished.data["outcome"]["interrupts"]) == 1
    interrupt: dict[str, Any] = finished.data["outcome"]["interrupts"][0]
    return interrupt


async def _waiting(http: httpx.AsyncClient, user: User, thread: str) -> list[SseEvent]:
    events = await ag_ui(http, user, run_input("tidy my notes", thread, f"{thread}-1"))
    run = await http.get(
        f"/runs/{agui_id('run', user.user_id, f'{thread}-1')}", headers=user.headers
    )
    assert run.json()["status"] == "waiting"
    return events


async def test_a_waiting_run_ends_its_ag_ui_run_with_an_interrupt(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "interrupt")
    events = await _waiting(http, user, "t1")
    check_run(events)
    assert [e.type for e in events] == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    assert events[4].data["toolCallId"] == "call_a"
    assert events[5].data["delta"] == '{"title":"groceries"}'
    assert events[-1].data == {
        "type": "RUN_FINISHED",
        "timestamp": events[-1].data["timestamp"],
        "threadId": "t1",
        "runId": "t1-1",
        "outcome": {
            "type": "interrupt",
            "interrupts": [
                {
                    "id": "call_a",
                    "reason": "tool_call",
                    "message": "Approve the call of the tool 'delete_note'?",
                    "toolCallId": "call_a",
                    "responseSchema": APPROVAL_SCHEMA,
                    "metadata": {"tool": "delete_note", "args": {"title": "groceries"}},
                }
            ],
        },
    }
    assert deleted == []
    # The resume route (here from the store) ends there too, from every position.
    same(await resume(http, user, "t1-1"), events)
    for n, event in enumerate(events, 1):
        rest = await resume(http, user, "t1-1", event.id)
        same(rest, events[n:])
    # Where it cannot replay: the snapshot, then the call the interrupt asks about.
    snapshot = await resume(http, user, "t1-1", "another-epoch:3")
    assert [e.type for e in snapshot][:2] == ["MESSAGES_SNAPSHOT", "TOOL_CALL_START"]
    assert snapshot[0].id == events[3].id
    same(snapshot[1:], events[4:])
    check_run(snapshot)


async def test_approving_runs_the_call_once_and_the_run_goes_on(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "approver")
    first = await _waiting(http, user, "t2")
    second = await ag_ui(http, user, resume_input("t2", "t2-2", approve("call_a")))
    check_run(second, answered="call_a")
    assert [e.type for e in second] == [
        "RUN_STARTED",
        "TOOL_CALL_RESULT",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    assert (second[0].data["threadId"], second[0].data["runId"]) == ("t2", "t2-2")
    assert second[1].data["toolCallId"] == "call_a"
    assert second[1].data["content"] == "deleted 'groceries'"
    assert interrupt_of(second)["id"] == "call_b"
    assert deleted == ["groceries"]

    edited = approve("call_b", editedArgs={"title": "old drafts"})
    third = await ag_ui(http, user, resume_input("t2", "t2-3", edited))
    check_run(third, answered="call_b")
    assert [e.type for e in third][:2] == ["RUN_STARTED", "TOOL_CALL_RESULT"]
    assert third[-1].data["outcome"] == {"type": "success"}
    answer = "".join(e.data["delta"] for e in third if e.type == "TEXT_MESSAGE_CONTENT")
    assert answer == "All done."
    assert deleted == ["groceries", "old drafts"]

    again = await http.post("/ag-ui", json=resume_input("t2", "t2-4", edited), headers=user.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert deleted == ["groceries", "old drafts"]
    run = await http.get(f"/runs/{agui_id('run', user.user_id, 't2-1')}", headers=user.headers)
    assert run.json()["status"] == "ok"
    # Each AG-UI run is sent again by its own runId, from any position, from the store.
    same(await resume(http, user, "t2-1"), first)  # the first still ends at its interrupt
    for client_run, events in [("t2-2", second), ("t2-3", third)]:
        same(await resume(http, user, client_run), events)
        for n, event in enumerate(events, 1):
            same(await resume(http, user, client_run, event.id), events[n:])
    # A runId is used once, whether a resume or a new run started it.
    for body in [resume_input("t2", "t2-2", edited), run_input("more", "t2", "t2-3")]:
        used = await http.post("/ag-ui", json=body, headers=user.headers)
        assert used.status_code == 409, used.text


async def test_rejecting_never_runs_the_call(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "rejecter")
    await _waiting(http, user, "t3")
    reject = {
        "interruptId": "call_a",
        "status": "resolved",
        "payload": {"approved": False, "reason": "keep it"},
    }
    second = await ag_ui(http, user, resume_input("t3", "t3-2", reject))
    check_run(second, answered="call_a")
    assert "TOOL_CALL_RESULT" not in [e.type for e in second]
    assert interrupt_of(second)["toolCallId"] == "call_b"
    # AG-UI's "cancelled" (the user answered nothing) rejects the call too.
    third = await ag_ui(
        http, user, resume_input("t3", "t3-3", {"interruptId": "call_b", "status": "cancelled"})
    )
    check_run(third, answered="call_b")
    assert third[-1].data["outcome"] == {"type": "success"}
    assert deleted == []
    stored = await http.get(
        f"/runs/{agui_id('run', user.user_id, 't3-1')}/events", headers=user.headers
    )
    resolved = [e["data"] for e in stored.json() if e["type"] == "approval_resolved"]
    assert [r["decision"] for r in resolved] == ["reject", "reject"]


@pytest.mark.parametrize(
    ("entries", "status", "code"),
    [
        ([approve("call_nope")], 409, "conflict"),
        ([approve("call_a"), approve("call_b")], 409, "conflict"),
        (
            [{"interruptId": "call_a", "status": "resolved", "payload": {"approved": "yes"}}],
            422,
            "bad_request",
        ),
        ([approve("call_a", editedArgs=["not", "an", "object"])], 422, "bad_request"),
        ([{"interruptId": "call_a", "status": "resolved", "payload": "yes"}], 422, "bad_request"),
    ],
)
async def test_a_resume_that_cannot_be_taken_is_refused(
    http: httpx.AsyncClient, entries: list[dict[str, Any]], status: int, code: str
) -> None:
    user = await new_user(http, "refused")
    await _waiting(http, user, "t4")
    body = run_input("tidy my notes", "t4", "t4-2")
    body["resume"] = entries
    response = await http.post("/ag-ui", json=body, headers=user.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    run = await http.get(f"/runs/{agui_id('run', user.user_id, 't4-1')}", headers=user.headers)
    assert run.json()["status"] == "waiting"
    assert deleted == []


async def test_someone_elses_interrupt_is_not_found(http: httpx.AsyncClient) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    await _waiting(http, ann, "t5")
    for user, thread in [(bob, "t5"), (ann, "never-used")]:
        response = await http.post(
            "/ag-ui", json=resume_input(thread, "t5-2", approve("call_a")), headers=user.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert deleted == []


async def test_a_cancelled_waiting_run_cannot_be_resumed(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "canceller")
    events = await _waiting(http, user, "t6")
    run_id = agui_id("run", user.user_id, "t6-1")
    assert (await http.post(f"/runs/{run_id}/cancel", headers=user.headers)).status_code == 202
    response = await http.post(
        "/ag-ui", json=resume_input("t6", "t6-2", approve("call_a")), headers=user.headers
    )
    assert response.status_code == 409
    same(await resume(http, user, "t6-1"), events)  # its AG-UI run ended at the interrupt
    assert deleted == []


async def test_answers_from_elsewhere_count_too(server: Server, http: httpx.AsyncClient) -> None:
    """A call answered with the HTTP route (the web page, say) is an answer of the run: the
    AG-UI run the next resume starts is the one after it."""
    user = await new_user(http, "mixed")
    await _waiting(http, user, "t8")
    ws, _ = await open_ws(server, user)
    await ws.send({"type": "ping"})  # a client that only listens
    run_id = agui_id("run", user.user_id, "t8-1")
    answered = await http.post(
        f"/runs/{run_id}/approvals/call_a", json={"decision": "approve"}, headers=user.headers
    )
    assert answered.status_code == 202
    await ws.until(lambda f: f.get("type") == "approval_requested")  # call_b's
    await ws.connection.close()
    third = await ag_ui(http, user, resume_input("t8", "t8-3", approve("call_b")))
    check_run(third, answered="call_b")
    assert third[1].data["toolCallId"] == "call_b"
    same(await resume(http, user, "t8-3"), third)
    assert deleted == ["groceries", "drafts"]
