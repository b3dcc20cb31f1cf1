"""``GET /runs/{id}/events``: a run's events as they were sent, for its owner only."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Server, events_of, new_user, open_ws

pytestmark = pytest.mark.e2e


async def test_a_finished_runs_events_are_the_frames_that_were_sent(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "events")
    client, _ = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("What is 17 * 23?")
        run_id = accepted["run_id"]
        sent = events_of(await client.run_to_end(run_id), run_id)
    got = await http.get(f"/runs/{run_id}/events", headers=user.headers)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == sent
    assert sent[0]["type"] == "agent_started"
    assert {"tool_executing", "tool_completed", "agent_completed"} <= {e["type"] for e in sent}

    offsets = [e["offset"] for e in sent]
    page = await http.get(
        f"/runs/{run_id}/events", params={"after": offsets[1], "limit": 3}, headers=user.headers
    )
    assert [e["offset"] for e in page.json()] == offsets[2:5]
    last = await http.get(
        f"/runs/{run_id}/events", params={"after": offsets[-1]}, headers=user.headers
    )
    assert last.json() == []


async def test_a_running_runs_events_so_far_then_the_rest(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "events")
    client, _ = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("slow 10")
        run_id = accepted["run_id"]
        seen = await client.until(lambda f: f.get("type") == "message_delta")
        so_far = (await http.get(f"/runs/{run_id}/events", headers=user.headers)).json()
        rest = await client.run_to_end(run_id)
    everything = events_of(seen + rest, run_id)
    assert len(seen) <= len(so_far) < len(everything)
    assert so_far == everything[: len(so_far)]
    run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "ok"
    stored = (await http.get(f"/runs/{run_id}/events", headers=user.headers)).json()
    assert stored == everything


async def test_someone_elses_run_and_bad_paging_are_refused(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    accepted = await http.post("/threads", json={}, headers=ann.headers)
    thread_id = accepted.json()["thread_id"]
    run = await http.post(f"/threads/{thread_id}/runs", json={"message": "hi"}, headers=ann.headers)
    run_id = run.json()["run_id"]
    theirs = await http.get(f"/runs/{run_id}/events", headers=bob.headers)
    missing = await http.get("/runs/run_missing/events", headers=bob.headers)
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json()["error"]["message"].replace(run_id, "X") == missing.json()["error"][
        "message"
    ].replace("run_missing", "X")
    assert (await http.get("/runs/null/events", headers=ann.headers)).status_code == 404
    assert (await http.get(f"/runs/{run_id}/events")).status_code == 401
    too_far = {"after": 2**63}  # past the store's 64-bit column: 422, not a database error
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": "x"}, too_far):
        bad = await http.get(f"/runs/{run_id}/events", params=params, headers=ann.headers)
        assert bad.status_code == 422, params
        assert bad.json()["error"]["code"] == "bad_request"
