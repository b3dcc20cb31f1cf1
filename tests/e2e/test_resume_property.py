"""One property of every transport: cut off anywhere, resume, and nothing is lost or doubled.

For random disconnect points in a run (hypothesis, a fixed seed), a client on ``/ws``,
``/stream`` or ``/ag-ui`` reads some of the run's events, loses its connection, resumes
from the last one it got (``resume``, ``Last-Event-ID``), maybe loses it again, and reads
to the run's end. What it saw before the cuts plus what it got after resuming must equal
the run as a client that was never cut off saw it: every event, in order, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from goldpath.models import ScriptedModel, TextDelta, Thought
from goldpath.models.scripted import Pause, ScriptStep
from goldpath.server import create_app
from tests.agui import SseEvent as AguiEvent
from tests.agui import check_run
from tests.e2e.conftest import (
    FRAME_TIMEOUT,
    Server,
    User,
    WsClient,
    make_settings,
    new_user,
    open_ws,
    running,
)
from tests.e2e.sse import SseClient, SseEvent
from tests.e2e.test_agui import run_input

pytestmark = pytest.mark.e2e

DELTAS = 6
STEPS: list[ScriptStep] = [Thought("thinking it over")]
for _i in range(DELTAS):
    STEPS += [Pause(0.01), TextDelta(f"{_i} ")]
RUN_EVENTS = DELTAS + 3  # agent_started, agent_thinking, the deltas, agent_completed
AGUI_EVENTS = 15  # RUN_STARTED, reasoning (5), the text message (2 + DELTAS), RUN_FINISHED
EXAMPLES = 15
FIXED_SEED = 20261204


def cut_points(events: int) -> st.SearchStrategy[list[int]]:
    """Up to three places to cut, each after some number of the run's events (0: before
    the first; past the last: the run is read to its end first)."""
    return st.lists(st.integers(min_value=0, max_value=events + 1), max_size=3).map(sorted)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = make_settings(
        tmp_path_factory.mktemp("resume"),
        messages_per_minute=100_000,
        threads_per_minute=100_000,
        max_connections_per_user=1000,
    )
    with running(config, create_app(config, model=ScriptedModel([STEPS]))) as srv:
        yield srv


@pytest.fixture(scope="module")
def user(server: Server) -> User:
    async def make() -> User:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            return await new_user(http, "cut")

    return asyncio.run(make())


def _check(transport: str, server: Server, user: User, cuts: list[int]) -> None:
    """Run the property for ``cuts`` on ``transport``, each example on a fresh loop."""
    checks = {"ws": _ws, "stream": _stream, "ag-ui": _ag_ui}
    asyncio.run(asyncio.wait_for(checks[transport](server, user, cuts), 4 * FRAME_TIMEOUT))


@pytest.mark.parametrize("transport", ["ws", "stream", "ag-ui"])
def test_events_before_a_cut_and_after_resuming_are_the_uninterrupted_run(
    server: Server, user: User, transport: str
) -> None:
    @seed(FIXED_SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(cuts=cut_points(AGUI_EVENTS if transport == "ag-ui" else RUN_EVENTS))
    def property_holds(cuts: list[int]) -> None:
        _check(transport, server, user, cuts)

    property_holds()


# ---------- /ws ----------


def _run_events(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("run_id") == run_id and "offset" in f]


async def _ws_read(client: WsClient, run_id: str, count: int | None) -> list[dict[str, Any]]:
    """The run's events on ``client`` until ``count`` of them (None: to the run's end)."""
    events: list[dict[str, Any]] = []
    while count is None or len(events) < count:
        frame = await client.recv()
        assert frame["type"] not in ("resync", "error"), frame
        if frame.get("run_id") == run_id and "offset" in frame:
            events.append(frame)
            if frame["type"] == "agent_completed":
                break
    return events


async def _ws(server: Server, user: User, cuts: list[int]) -> None:
    observer, _ = await open_ws(server, user)
    client, ready = await open_ws(server, user)
    epoch, last = ready["stream"]["epoch"], ready["stream"]["offset"]
    async with observer.connection:
        await observer.send({"type": "ping"})
        assert (await observer.recv())["type"] == "pong"
        accepted = await client.chat("go")
        run_id = accepted["run_id"]
        seen: list[dict[str, Any]] = []
        done = False
        for cut in [*cuts, None]:
            if seen:
                last = seen[-1]["offset"]
            if client.connection.state.name != "OPEN":
                client, _ = await open_ws(server, user)
                await client.send({"type": "resume", "epoch": epoch, "offset": last})
                resumed = await client.recv()
                assert resumed["type"] == "resumed", resumed
            async with client.connection:
                if not done:
                    wanted = None if cut is None else max(0, cut - len(seen))
                    seen += await _ws_read(client, run_id, wanted)
                    done = bool(seen) and seen[-1]["type"] == "agent_completed"
        uninterrupted = await _ws_read(observer, run_id, None)
    assert seen == uninterrupted
    assert len(seen) == RUN_EVENTS


# ---------- /stream ----------


@asynccontextmanager
async def _sse(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> AsyncIterator[SseClient]:
    async with http.stream(method, path, headers=headers, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        yield SseClient(response)


async def _sse_read(
    stream: SseClient, count: int | None, is_event: Any, is_last: Any
) -> list[SseEvent]:
    events: list[SseEvent] = []
    while count is None or len(events) < count:
        try:
            event = await stream.next()
        except EOFError:
            break
        assert event.event not in ("resync", "error"), event
        if is_event(event):
            events.append(event)
            if is_last(event):
                break
    return events


async def _stream(server: Server, user: User, cuts: list[int]) -> None:
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=FRAME_TIMEOUT) as http,
        _sse(http, "GET", "/stream", user.headers) as observer,
    ):
        await observer.next()  # ready: from here on it sees everything, uncut
        seen: list[SseEvent] = []
        position: str | None = None
        run_id = ""

        def of_run(e: SseEvent) -> bool:
            return e.data.get("run_id") == run_id and "offset" in e.data

        def last(e: SseEvent) -> bool:
            return e.event == "agent_completed"

        for cut in [*cuts, None]:
            if seen and last(seen[-1]):
                break
            headers = dict(user.headers)
            if position is not None:
                headers["Last-Event-ID"] = seen[-1].id if seen and seen[-1].id else position
            async with _sse(http, "GET", "/stream", headers) as stream:
                ready = await stream.next()
                assert ready.event == "ready"
                if position is None:  # the first connection: start the run on it
                    position = ready.id
                    thread = await http.post("/threads", json={}, headers=user.headers)
                    path = f"/threads/{thread.json()['thread_id']}/runs"
                    run = await http.post(path, json={"message": "go"}, headers=user.headers)
                    run_id = run.json()["run_id"]
                else:
                    assert (await stream.next()).event == "resumed"
                wanted = None if cut is None else max(0, cut - len(seen))
                seen += await _sse_read(stream, wanted, of_run, last)
        uninterrupted = await _sse_read(observer, None, of_run, last)
    assert seen == uninterrupted
    assert len(seen) == RUN_EVENTS


# ---------- /ag-ui ----------


async def _ag_ui(server: Server, user: User, cuts: list[int]) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=FRAME_TIMEOUT) as http:
        body = run_input("go", "cuts", None)
        run_id = body["runId"]

        def any_event(_: SseEvent) -> bool:
            return True

        def last(e: SseEvent) -> bool:
            return e.data["type"] in ("RUN_FINISHED", "RUN_ERROR")

        seen: list[SseEvent] = []
        first, *rest = [*cuts, None]
        async with _sse(http, "POST", "/ag-ui", user.headers, json=body) as stream:
            seen += await _sse_read(stream, first, any_event, last)
        for cut in rest:
            if seen and last(seen[-1]):
                break
            headers = dict(user.headers)
            if seen and seen[-1].id is not None:
                headers["Last-Event-ID"] = seen[-1].id
            async with _sse(http, "GET", f"/ag-ui/runs/{run_id}/events", headers) as stream:
                wanted = None if cut is None else max(0, cut - len(seen))
                seen += await _sse_read(stream, wanted, any_event, last)
        path = f"/ag-ui/runs/{run_id}/events"
        async with _sse(http, "GET", path, user.headers) as whole:
            uninterrupted = await _sse_read(whole, None, any_event, last)
    assert [(e.id, e.data) for e in seen] == [(e.id, e.data) for e in uninterrupted]
    assert len(seen) == AGUI_EVENTS
    check_run([AguiEvent(e.id, e.data) for e in seen])  # AG-UI 1.0's shapes, offsets by 1
