"""Approvals hold under any interleaving of answers, duplicates, disconnects and restarts.

For random runs of 1 to 3 calls that need approval (hypothesis, a fixed seed), made one a
turn or all in one turn, each after a call that needs none (``read_note``), a client
approves (maybe with edited args), rejects or cancels each call, by the ``approve`` frame,
by HTTP, the same frame twice, or HTTP and the frame at once; between calls its socket may
drop (it resumes), it may answer over HTTP while it has no socket, or the server may
restart on the same SQLite data directory while the run waits. Whatever happens: every
approved call's tool ran exactly once (with the edited args when given), a rejected one
never, and no call made before a pause ran again; each ``approval_requested`` has exactly
one ``approval_resolved``; the run ends with exactly one ``agent_completed``; the client
saw every event exactly once, with gapless offsets in each stream epoch; and the stored
events (``GET /runs/{id}/events``) are exactly what it saw.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from goldpath.server import Settings, create_app
from tests.e2e.approving import DeletingModel, deleting_tool, reading_tool
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

pytestmark = pytest.mark.e2e

EXAMPLES = 40
RACES = 10
FIXED_SEED = 20261204

executed: Counter[str] = Counter()
"""How many times the tool ran for each note title (titles are unique per call)."""
delete_note = deleting_tool(lambda title: executed.update([title]))
read: Counter[str] = Counter()
"""How many times each note was read: a call without approval, made before its delete."""
read_note = reading_tool(lambda title: read.update([title]))

Decision = Literal["approve", "approve edited", "reject", "cancel", "cancel racing approve"]
Delivery = Literal["frame", "frame twice", "http", "http and frame"]
Disruption = Literal["none", "reconnect", "answer while away", "restart"]


@dataclass(frozen=True)
class Step:
    """What happens at one call the run waits on."""

    decision: Decision
    delivery: Delivery
    disruption: Disruption


steps = st.builds(
    Step,
    st.sampled_from(["approve", "approve edited", "reject", "cancel", "cancel racing approve"]),
    st.sampled_from(["frame", "frame twice", "http", "http and frame"]),
    st.sampled_from(["none", "none", "reconnect", "answer while away", "restart"]),
)


class Servers:
    """The test server, which a step may restart on the same data directory."""

    def __init__(self, config: Settings) -> None:
        self._config = config
        self._stack = ExitStack()
        self.current = self._start()
        self.restarts = 0

    def _start(self) -> Server:
        app = create_app(self._config, tools=[read_note, delete_note], model=DeletingModel())
        return self._stack.enter_context(running(self._config, app))

    def restart(self) -> None:
        self._stack.close()  # a graceful stop: the waiting run holds no task
        self._stack = ExitStack()
        self.current = self._start()
        self.restarts += 1

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    config = make_settings(
        tmp_path_factory.mktemp("approvals-property"),
        messages_per_minute=100_000,
        threads_per_minute=100_000,
        max_connections_per_user=1000,
    )
    made = Servers(config)
    try:
        yield made
    finally:
        made.close()


@dataclass
class Client:
    """One user's view of the run: every event it got, cut into stream segments (a new
    one after a resync), and the conflicts its answers were told."""

    servers: Servers
    user: User
    run_id: str = ""
    ws: WsClient | None = None
    epoch: str = ""
    segments: list[list[dict[str, Any]]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    conflicts: int = 0

    @property
    def seen(self) -> list[dict[str, Any]]:
        return [event for segment in self.segments for event in segment]

    def _segment(self, epoch: str, offset: int) -> None:
        self.epoch = epoch
        self.segments.append([])
        self.starts.append(offset)

    async def connect(self) -> None:
        """Open a socket, resuming after the last event seen (a restart: resync)."""
        ws, ready = await open_ws(self.servers.current, self.user)
        self.ws = ws
        if not self.segments:
            self._segment(ready["stream"]["epoch"], ready["stream"]["offset"])
            await ws.send({"type": "ping"})
            assert (await ws.recv())["type"] == "pong"
            return
        last = self.seen[-1]["offset"] if self.segments[-1] else self.starts[-1]
        await ws.send({"type": "resume", "epoch": self.epoch, "offset": last})
        answer = await ws.recv()
        if answer["type"] == "resync":  # the server restarted: a new stream
            assert answer["epoch"] != self.epoch, answer
            self._segment(answer["epoch"], answer["offset"])
        else:
            assert answer["type"] == "resumed", answer

    async def disconnect(self) -> None:
        assert self.ws is not None
        await self.ws.connection.close()
        self.ws = None

    async def _next(self) -> dict[str, Any]:
        """The next frame, kept when it is an event of the run, counted when a conflict."""
        assert self.ws is not None
        frame = await self.ws.recv()
        if frame["type"] == "error":
            assert frame["code"] == "conflict", frame
            self.conflicts += 1
        elif "offset" in frame:
            assert frame["run_id"] == self.run_id, frame
            self.segments[-1].append(frame)
        return frame

    async def next_milestone(self) -> dict[str, Any]:
        """The run's next ``approval_requested``, or its ``agent_completed``."""
        while True:
            frame = await self._next()
            if "offset" in frame and frame["type"] in ("approval_requested", "agent_completed"):
                return frame

    async def barrier(self) -> None:
        """Every frame sent before this has been handled (frames are handled in order)."""
        assert self.ws is not None
        await self.ws.send({"type": "ping"})
        while (await self._next())["type"] != "pong":
            pass


def _check(servers: Servers, plan: list[Step], together: bool) -> None:
    asyncio.run(asyncio.wait_for(_run(servers, plan, together), 6 * FRAME_TIMEOUT))


def test_every_approved_call_runs_once_and_every_run_ends_once(servers: Servers) -> None:
    @seed(FIXED_SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # plans are short; shrinking a hang would cost minutes
    )
    @given(plan=st.lists(steps, min_size=1, max_size=3), together=st.booleans())
    def property_holds(plan: list[Step], together: bool) -> None:
        _check(servers, plan, together)

    property_holds()
    assert servers.restarts > 0  # the examples did restart the server


@pytest.mark.parametrize("together", [False, True])
def test_a_cancel_racing_an_approve_always_ends_the_run(servers: Servers, together: bool) -> None:
    """Whichever wins, the run ends, once: a cancel that meets the run storing its pause
    (the approve won, and the run went on to its next call) is carried out once it waits."""
    race = Step("cancel racing approve", "http", "none")
    for _ in range(RACES):
        _check(servers, [race, Step("approve", "http", "none")], together)


async def _answer(
    client: Client, http: httpx.AsyncClient, call_id: str, title: str, step: Step, *, away: bool
) -> None:
    """Send the step's answer to the call deleting ``title``, as the step says; exactly one
    of its copies must be taken."""
    base = client.servers.current.base_url
    headers = client.user.headers
    cancel = f"{base}/runs/{client.run_id}/cancel"
    if step.decision == "cancel":
        cancelled = await http.post(cancel, headers=headers)
        assert cancelled.status_code == 202, cancelled.text
        return
    if step.decision == "cancel racing approve":  # either may win; the run ends once
        approve = {"decision": "approve"}
        url = f"{base}/runs/{client.run_id}/approvals/{call_id}"
        if away:
            answered = [
                *await asyncio.gather(
                    http.post(cancel, headers=headers),
                    http.post(url, json=approve, headers=headers),
                )
            ]
        else:
            assert client.ws is not None
            frame = {"type": "approve", "run_id": client.run_id, "call_id": call_id, **approve}
            posted, _ = await asyncio.gather(
                http.post(cancel, headers=headers), client.ws.send(frame)
            )
            answered = [posted]
            await client.barrier()  # the frame's conflict, if it lost, comes before the pong
        assert {a.status_code for a in answered} <= {202, 409}, [a.text for a in answered]
        return
    body: dict[str, Any] = {"decision": step.decision.split()[0]}
    if step.decision == "approve edited":
        body["args"] = {"title": edited(title)}
    frame = {"type": "approve", "run_id": client.run_id, "call_id": call_id, **body}
    url = f"{base}/runs/{client.run_id}/approvals/{call_id}"
    copies = 2 if step.delivery in ("frame twice", "http and frame") else 1
    by_http = away or step.delivery in ("http", "http and frame")
    by_frame = not away and step.delivery != "http"
    statuses: list[int] = []
    if by_http and (away or step.delivery == "http") and copies == 2:  # away: HTTP twice
        twice = await asyncio.gather(
            http.post(url, json=body, headers=headers), http.post(url, json=body, headers=headers)
        )
        statuses = [a.status_code for a in twice]
    elif by_http and by_frame:
        assert client.ws is not None
        posted, _ = await asyncio.gather(
            http.post(url, json=body, headers=headers), client.ws.send(frame)
        )
        statuses = [posted.status_code]
    elif by_http:
        statuses = [(await http.post(url, json=body, headers=headers)).status_code]
    else:
        assert client.ws is not None
        for _ in range(copies):
            await client.ws.send(frame)
    assert set(statuses) <= {202, 409}, statuses
    conflicts_before = client.conflicts
    if not away:
        await client.barrier()
    refused = statuses.count(409) + client.conflicts - conflicts_before
    assert refused == copies - 1, (step, statuses, refused)


async def _run(servers: Servers, plan: list[Step], together: bool) -> None:
    """One run of ``plan``; ``together``: the model makes every call in one turn."""
    base = servers.current.base_url  # the user registers here; later calls name the server
    async with httpx.AsyncClient(base_url=base, timeout=FRAME_TIMEOUT) as http:
        client = Client(servers, await new_user(http, "approver"))
        titles = [f"note-{client.user.user_id}-{i}" for i in range(len(plan))]
        await client.connect()
        assert client.ws is not None
        verb = "delete-together" if together else "delete"
        accepted = await client.ws.chat(f"{verb} {' '.join(titles)}")
        client.run_id = accepted["run_id"]
        asked: list[str] = []
        decided: dict[str, Decision] = {}
        milestone = await client.next_milestone()
        for step in plan:
            assert milestone["type"] == "approval_requested", milestone
            call_id = milestone["data"]["call_id"]
            assert milestone["data"]["args"] == {"title": titles[len(asked)]}
            asked.append(call_id)
            decided[call_id] = step.decision
            away = step.disruption == "answer while away"
            if step.disruption != "none":
                await client.disconnect()
            if step.disruption == "restart":
                await asyncio.to_thread(servers.restart)
            if not away and step.disruption != "none":
                await client.connect()
            await _answer(client, http, call_id, titles[len(asked) - 1], step, away=away)
            if away:
                await client.connect()
            milestone = await _after(client, milestone)
            if step.decision.startswith("cancel"):
                while milestone["type"] != "agent_completed":  # a call after a lost race
                    milestone = await _after(client, milestone)
                break
        assert milestone["type"] == "agent_completed", milestone
        await client.barrier()  # nothing after agent_completed: no second one
        assert client.ws is not None
        await client.disconnect()
        stored = await http.get(
            f"{servers.current.base_url}/runs/{client.run_id}/events", headers=client.user.headers
        )
        run = await http.get(
            f"{servers.current.base_url}/runs/{client.run_id}", headers=client.user.headers
        )
    _check_run(client, stored.json(), run.json(), asked, decided, titles)


async def _after(client: Client, requested: dict[str, Any]) -> dict[str, Any]:
    """The next milestone after ``requested`` (the client may have read it already: in a
    resume's replay, or while it waited for a barrier's pong)."""
    seen = client.seen
    index = next(i for i, e in enumerate(seen) if e is requested or e == requested)
    for event in seen[index + 1 :]:
        if event["type"] in ("approval_requested", "agent_completed"):
            return event
    return await client.next_milestone()


def edited(title: str) -> str:
    """The title an edited approval deletes instead."""
    return f"{title}.edited"


def _check_run(
    client: Client,
    stored: list[dict[str, Any]],
    run: dict[str, Any],
    asked: list[str],
    decided: dict[str, Decision],
    titles: list[str],
) -> None:
    seen = client.seen
    kinds = [e["type"] for e in seen]
    assert kinds.count("agent_completed") == 1, kinds
    assert kinds[-1] == "agent_completed", kinds
    assert kinds.count("agent_started") == 1, kinds
    assert kinds[0] == "agent_started", kinds
    status = seen[-1]["data"]["status"]
    last = decided[asked[-1]]
    assert status == {"cancel": "cancelled", "cancel racing approve": status}.get(last, "ok")
    assert status in ("ok", "cancelled"), seen[-1]
    assert run["status"] == status
    # Every event exactly once, gapless in each epoch, and stored exactly as sent.
    for start, segment in zip(client.starts, client.segments, strict=True):
        offsets = [e["offset"] for e in segment]
        assert offsets == list(range(start + 1, start + 1 + len(offsets))), offsets
    assert stored == seen
    # The calls asked for, in order; one more only when an approve won a race with a
    # cancel and the run went on to its next call before the cancel ended it.
    requested = [e["data"]["call_id"] for e in seen if e["type"] == "approval_requested"]
    assert requested[: len(asked)] == asked
    extra = requested[len(asked) :]
    assert extra == [] or (last == "cancel racing approve" and len(extra) == 1), requested
    for index, title in enumerate(titles):
        _check_call(seen, f"call_{index}", title, decided.get(f"call_{index}"))


def _check_call(
    seen: list[dict[str, Any]], call_id: str, title: str, decision: Decision | None
) -> None:
    """The call deleting ``title`` resolved at most once, as decided, and ran as resolved:
    approved once (with the edited args), otherwise never; its read (a call needing no
    approval, before it) ran at most once, and once for every call that was asked."""

    def of(kind: str, call: str) -> list[dict[str, Any]]:
        return [e["data"] for e in seen if e["type"] == kind and e["data"]["call_id"] == call]

    resolved = of("approval_resolved", call_id)
    ran = of("tool_executing", call_id)
    reads = of("tool_executing", "read" + call_id.removeprefix("call"))
    runs_as = {"approve": title, "approve edited": edited(title)}.get(decision or "")
    if decision == "cancel racing approve" and resolved:  # the approve won
        runs_as = title
    if decision is None or decision.startswith("cancel"):
        assert resolved == ([] if runs_as is None else [_by_user(call_id, "approve")])
    else:
        assert resolved == [_by_user(call_id, decision.split()[0])]
    assert len(reads) == read[title] <= 1, (title, reads)
    if decision is not None:
        assert [r["args"] for r in reads] == [{"title": title}]  # asked: read before, once
    if runs_as is not None and decision == "cancel racing approve":
        # The cancel that lost the race may stop the call it let run, mid-call.
        assert [r["args"] for r in ran] in ([], [{"title": runs_as}])
        assert executed[title] <= len(ran)
    else:
        assert [r["args"] for r in ran] == ([] if runs_as is None else [{"title": runs_as}])
        assert executed[title] == (runs_as == title), (title, decision)
    assert executed[edited(title)] == (runs_as == edited(title)), (title, decision)


def _by_user(call_id: str, decision: str) -> dict[str, str]:
    return {"call_id": call_id, "decision": decision, "by": "user"}
