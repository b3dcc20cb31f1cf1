"""``GET /ag-ui/runs/{runId}/events``: goldpath's resume extension of AG-UI, on a real server.

From any event id a client got, the rest of the run exactly once; live to the end when the
run is still going; a MESSAGES_SNAPSHOT when that id cannot be replayed from.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.agui import SseEvent, check_event, check_run, parse_sse, read_sse
from tests.e2e.conftest import User, new_user
from tests.e2e.test_agui import ag_ui, run_input

pytestmark = pytest.mark.e2e


async def resume(
    http: httpx.AsyncClient, user: User, run_id: str, last_event_id: str | None = None
) -> list[SseEvent]:
    headers = dict(user.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with http.stream("GET", f"/ag-ui/runs/{run_id}/events", headers=headers) as response:
        return await read_sse(response)


def same(a: list[SseEvent], b: list[SseEvent]) -> None:
    assert [(e.id, e.data) for e in a] == [(e.id, e.data) for e in b]


async def test_resuming_at_every_position_gives_exactly_the_rest(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "resumer")
    live = await ag_ui(http, user, run_input("What is 17 * 23?", "t", "r-every"))
    same(await resume(http, user, "r-every"), live)  # no Last-Event-ID: the whole run
    same(await resume(http, user, "r-every", f"{live[0].epoch}:0"), live)  # before the first
    for n, event in enumerate(live, 1):
        rest = await resume(http, user, "r-every", event.id)
        same(rest, live[n:])
        if n < len(live):
            check_run(rest, first=n + 1)
        else:
            assert rest == []


async def test_a_run_in_flight_resumes_then_goes_on_live(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "midrun")
    seen: list[SseEvent] = []
    body = run_input("slow 8", "t", "r-mid")
    async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
        text = ""
        async for chunk in response.aiter_text():
            text += chunk
            seen = parse_sse(text[: text.rfind("\n\n") + 2])
            if sum(e.type == "TEXT_MESSAGE_CONTENT" for e in seen) >= 2:
                break  # the connection drops in the middle of the answer
    rest = await resume(http, user, "r-mid", seen[-1].id)
    check_run(rest, first=len(seen) + 1)
    whole = seen + rest
    check_run(whole)
    same(whole, await resume(http, user, "r-mid"))
    answer = "".join(e.data["delta"] for e in whole if e.type == "TEXT_MESSAGE_CONTENT")
    assert answer == "0 1 2 3 4 5 6 7 "


async def _snapshot_then_end(
    http: httpx.AsyncClient, user: User, run_id: str, last_event_id: str, live: list[SseEvent]
) -> None:
    events = await resume(http, user, run_id, last_event_id)
    assert [e.type for e in events] == ["MESSAGES_SNAPSHOT", live[-1].type]
    check_event(events[0].data)
    assert events[0].id == f"{live[-1].epoch}:{live[-1].offset - 1}"
    same(events[1:], live[-1:])
    check_run(events)
    messages = events[0].data["messages"]
    assert [(m["role"], m["content"]) for m in messages][-2:] == [
        ("user", "What is 17 * 23?"),
        ("assistant", "".join(e.data["delta"] for e in live if e.type == "TEXT_MESSAGE_CONTENT")),
    ]


@pytest.mark.parametrize("position", ["another-epoch:3", "EPOCH:999"])
async def test_an_id_that_cannot_be_replayed_gets_a_snapshot(
    http: httpx.AsyncClient, position: str
) -> None:
    user = await new_user(http, "snap")
    live = await ag_ui(http, user, run_input("What is 17 * 23?", "t", "r-snap"))
    last_event_id = position.replace("EPOCH", live[0].epoch)
    await _snapshot_then_end(http, user, "r-snap", last_event_id, live)


async def test_a_run_in_flight_that_cannot_be_replayed_gets_a_snapshot_at_its_end(
    http: httpx.AsyncClient,
) -> None:
    user = await new_user(http, "snapmid")
    body = run_input("slow 4", "t", "r-snapmid")
    async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and "TEXT_MESSAGE_CONTENT" in line:
                break
    events = await resume(http, user, "r-snapmid", "another-epoch:2")
    assert [e.type for e in events] == ["MESSAGES_SNAPSHOT", "RUN_FINISHED"]
    whole = await resume(http, user, "r-snapmid")
    same(events[1:], whole[-1:])
    assert events[0].offset == whole[-1].offset - 1
    assert events[0].data["messages"][-1]["content"] == "0 1 2 3 "


@pytest.mark.parametrize(
    "last_event_id", ["no-colon", "e:-1", "e:x", ":4", b"e:" + "²".encode("latin-1")]
)
async def test_a_malformed_last_event_id_is_refused(
    http: httpx.AsyncClient, last_event_id: str | bytes
) -> None:
    user = await new_user(http, "malformed")
    await ag_ui(http, user, run_input("What is 2 + 2?", "t", "r-bad"))
    value = last_event_id if isinstance(last_event_id, bytes) else last_event_id.encode()
    headers = [(k.encode(), v.encode()) for k, v in user.headers.items()]
    headers.append((b"Last-Event-ID", value))
    response = await http.get("/ag-ui/runs/r-bad/events", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_request"


async def test_someone_elses_run_is_not_found(http: httpx.AsyncClient) -> None:
    ann, bob = await new_user(http, "ann"), await new_user(http, "bob")
    await ag_ui(http, ann, run_input("What is 2 + 2?", "t", "ann-run"))
    for user, run_id in [(bob, "ann-run"), (ann, "never-ran"), (ann, "null")]:
        response = await http.get(f"/ag-ui/runs/{run_id}/events", headers=user.headers)
        assert response.status_code == 404, run_id
        body: dict[str, Any] = response.json()
        assert body["error"]["code"] == "not_found"
    assert (await http.get("/ag-ui/runs/ann-run/events")).status_code == 401


async def test_a_goldpath_run_is_not_an_ag_ui_run(http: httpx.AsyncClient) -> None:
    user = await new_user(http, "plain")
    thread = (await http.post("/threads", json={}, headers=user.headers)).json()
    accepted = await http.post(
        f"/threads/{thread['thread_id']}/runs", json={"message": "hi"}, headers=user.headers
    )
    run_id = accepted.json()["run_id"]
    response = await http.get(f"/ag-ui/runs/{run_id}/events", headers=user.headers)
    assert response.status_code == 404


async def first_events(
    http: httpx.AsyncClient, user: User, body: dict[str, Any], k: int
) -> list[SseEvent]:
    """The first ``k`` events of a new run, then the connection drops."""
    text = ""
    async with http.stream("POST", "/ag-ui", json=body, headers=user.headers) as response:
        async for chunk in response.aiter_text():
            text += chunk
            if text.count("\n\n") >= k:
                break
    return parse_sse(text)[:k]


async def test_a_run_in_flight_resumes_exactly_from_every_position(
    http: httpx.AsyncClient,
) -> None:
    """Dropped after each of its events in turn, while another run of the same user
    streams beside it: the events before plus those after resuming are the whole run."""
    user = await new_user(http, "everywhere")
    thread = (await http.post("/threads", json={}, headers=user.headers)).json()["thread_id"]
    whole = await ag_ui(http, user, run_input("slow 3", "t", "r-0"))
    for k in range(1, len(whole)):
        seen = await first_events(http, user, run_input("slow 3", "t", f"r-{k}"), k)
        beside = await http.post(
            f"/threads/{thread}/runs", json={"message": "slow 2"}, headers=user.headers
        )
        assert beside.status_code == 202
        rest = await resume(http, user, f"r-{k}", seen[-1].id)
        check_run(seen + rest)
        kinds = [(e.type, e.offset) for e in seen + rest]
        assert kinds == [(e.type, e.offset) for e in whole], k
        same(seen + rest, await resume(http, user, f"r-{k}"))
