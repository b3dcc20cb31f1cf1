"""The notes demo on the default server and the offline model: a deletion waits for the
user's approval; a rejection reaches the model, which says it did not delete the note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    Server,
    User,
    WsClient,
    events_of,
    make_settings,
    new_user,
    open_ws,
    running,
)

pytestmark = pytest.mark.e2e


async def _ask_to_delete(
    http: httpx.AsyncClient, user: User, ws: WsClient, question: str
) -> tuple[str, dict[str, Any]]:
    """Chat ``question``; the run waits: its id and the ``approval_requested`` data."""
    accepted = await ws.chat(question)
    frames = await ws.until(lambda f: f.get("type") == "approval_requested")
    requested = frames[-1]["data"]
    run = await http.get(f"/runs/{accepted['run_id']}", headers=user.headers)
    assert run.json()["status"] == "waiting"
    return accepted["run_id"], requested


async def test_a_rejected_deletion_reaches_the_model_and_the_note_stays(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "notes")
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        run_id, requested = await _ask_to_delete(http, user, ws, "Please delete the note groceries")
        assert (requested["tool"], requested["args"]) == ("delete_note", {"title": "groceries"})
        await ws.send(
            {
                "type": "approve",
                "run_id": run_id,
                "call_id": requested["call_id"],
                "decision": "reject",
                "reason": "I still need it",
            }
        )
        frames = events_of(await ws.run_to_end(run_id), run_id)
        kinds = [f["type"] for f in frames]
        assert kinds[0] == "approval_resolved"
        assert frames[0]["data"]["decision"] == "reject"
        assert "tool_executing" not in kinds
        end = frames[-1]["data"]
        assert (end["status"], end["result"]["text"]) == (
            "ok",
            "I did not delete the note 'groceries', because you rejected it. "
            "You said: I still need it",
        )
        listed = await ws.chat("What notes do I have?")
        frames = events_of(await ws.run_to_end(listed["run_id"]), listed["run_id"])
        assert frames[-1]["data"]["result"]["text"] == (
            "Your notes: 'groceries', 'ideas', 'reading list'."
        )


async def test_an_approved_deletion_with_edited_args_deletes_the_edited_note(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "notes")
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        run_id, requested = await _ask_to_delete(http, user, ws, "delete my note called groceries")
        url = f"/runs/{run_id}/approvals/{requested['call_id']}"
        body = {"decision": "approve", "args": {"title": "ideas"}}
        assert (await http.post(url, json=body, headers=user.headers)).status_code == 202
        frames = events_of(await ws.run_to_end(run_id), run_id)
        executing = next(f["data"] for f in frames if f["type"] == "tool_executing")
        assert executing["args"] == {"title": "ideas"}
        assert frames[-1]["data"]["result"]["text"] == (
            "Deleted the note 'ideas'. Your notes now: 'groceries', 'reading list'."
        )


async def test_the_demo_can_be_switched_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, demo_notes=False)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            user = await new_user(http, "nodemo")
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat("delete the note groceries")
                frames = events_of(await ws.run_to_end(accepted["run_id"]), accepted["run_id"])
    assert "approval_requested" not in [f["type"] for f in frames]
    assert "only two things" in frames[-1]["data"]["result"]["text"]
