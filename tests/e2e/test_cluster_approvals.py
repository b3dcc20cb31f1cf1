"""Approvals across real nodes on one PostgreSQL and one Redis: a run paused on one node is
continued by another, even when the first was killed, and of two answers sent to two nodes
at once exactly one is taken.

The nodes have `tests.e2e.approving`'s ``delete_note``, which logs each run of it with the
node's pid, so a test sees which node ran a call and how often.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.approving import logged_runs
from tests.e2e.cluster import Node, Nodes, cluster
from tests.e2e.conftest import FRAME_TIMEOUT, User, WsClient
from tests.e2e.test_cluster import open_socket, register

pytestmark = pytest.mark.e2e


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "executed.log"


@pytest.fixture
def nodes(tmp_path: Path, log: Path) -> Iterator[Nodes]:
    with cluster(tmp_path, extra={"TEST_APPROVALS_LOG": str(log)}) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=FRAME_TIMEOUT) as client:
        yield client


def run_events(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("run_id") == run_id and "offset" in f]


async def until_event(client: WsClient, run_id: str, kind: str) -> list[dict[str, Any]]:
    """The frames up to the run's next event of type ``kind``."""
    return await client.until(lambda f: f.get("run_id") == run_id and f.get("type") == kind)


def check_run(
    seen: list[dict[str, Any]], stored: list[dict[str, Any]], decisions: dict[str, str]
) -> None:
    """The invariants: the run's events seen once each, gapless, as stored; one end; each
    request resolved once as decided; an approved call's pair once, a rejected one's none."""
    offsets = [e["offset"] for e in seen]
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), offsets
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "agent_started"
    assert kinds.count("agent_completed") == 1
    assert kinds[-1] == "agent_completed"
    assert seen[-1]["data"]["status"] == "ok", seen[-1]
    assert stored == seen
    requested = [e["data"]["call_id"] for e in seen if e["type"] == "approval_requested"]
    assert requested == list(decisions)
    for call_id, decision in decisions.items():
        resolved = [
            e["data"]
            for e in seen
            if e["type"] == "approval_resolved" and e["data"]["call_id"] == call_id
        ]
        assert resolved == [{"call_id": call_id, "decision": decision, "by": "user"}]
        ran = [e for e in seen if e["type"] == "tool_executing" and e["data"]["call_id"] == call_id]
        assert len(ran) == (decision == "approve")


async def stored_events(
    http: httpx.AsyncClient, node: Node, user: User, run_id: str
) -> list[dict[str, Any]]:
    response = await http.get(f"{node.base_url}/runs/{run_id}/events", headers=user.headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


async def stored_run(
    http: httpx.AsyncClient, node: Node, user: User, run_id: str
) -> list[dict[str, Any]]:
    """The run's stored events once its end is among them: a node stores agent_completed
    just after it sends it, so a client that saw the frame can be a moment early."""
    await stored_until(http, node, user, run_id, "agent_completed")
    return await stored_events(http, node, user, run_id)


async def stored_until(
    http: httpx.AsyncClient, node: Node, user: User, run_id: str, kind: str
) -> None:
    """Return once the run's stored events include one of type ``kind``."""
    deadline = time.monotonic() + FRAME_TIMEOUT
    while kind not in [e["type"] for e in await stored_events(http, node, user, run_id)]:
        assert time.monotonic() < deadline, f"no {kind} stored"
        await asyncio.sleep(0.02)


async def test_a_run_paused_on_a_killed_node_is_continued_once_by_another(
    nodes: Nodes, http: httpx.AsyncClient, log: Path
) -> None:
    doomed, survivor = nodes.start(2)
    user = await register(http, survivor, "killed")
    watcher = await open_socket(survivor, user)
    sender = await open_socket(doomed, user)
    async with watcher.connection:
        run_id = (await sender.chat("delete first second"))["run_id"]
        frames = await until_event(watcher, run_id, "approval_requested")
        await until_event(sender, run_id, "approval_requested")
        # approval_requested is stored at once after it is sent (a kill in that instant
        # would lose the stored copy, as with agent_completed): wait until it is there.
        await stored_until(http, survivor, user, run_id, "approval_requested")
        doomed.signal(signal.SIGKILL)  # the run waits: no node holds it
        assert doomed.wait() == -signal.SIGKILL
        # The sender comes back on the survivor and sends its approval twice.
        sender = await open_socket(survivor, user)
        approve = {"type": "approve", "run_id": run_id, "call_id": "call_0", "decision": "approve"}
        await sender.send(approve)
        await sender.send(approve)
        replies = await sender.until(lambda f: f.get("type") == "error")
        assert replies[-1]["code"] == "conflict", replies
        frames += await until_event(watcher, run_id, "approval_requested")
        url = f"{survivor.base_url}/runs/{run_id}/approvals/call_1"
        rejected = await http.post(url, json={"decision": "reject"}, headers=user.headers)
        assert rejected.status_code == 202, rejected.text
        frames += await until_event(watcher, run_id, "agent_completed")
        await sender.connection.close()
    seen = run_events(frames, run_id)
    stored = await stored_run(http, survivor, user, run_id)
    check_run(seen, stored, {"call_0": "approve", "call_1": "reject"})
    assert logged_runs(log) == {("first", survivor.process.pid): 1}


async def test_a_run_is_approved_at_another_node_and_two_answers_at_two_nodes_take_one(
    nodes: Nodes, http: httpx.AsyncClient, log: Path
) -> None:
    runner, other = nodes.start(2)
    user = await register(http, runner, "across")
    watcher = await open_socket(runner, user)
    answerer = await open_socket(other, user)
    async with watcher.connection, answerer.connection:
        # Run on one node, approved by the frame at the other: the call runs there, once.
        run_id = (await watcher.chat("delete across"))["run_id"]
        frames = await until_event(watcher, run_id, "approval_requested")
        approve = {"type": "approve", "run_id": run_id, "call_id": "call_0", "decision": "approve"}
        await answerer.send(approve)
        frames += await until_event(watcher, run_id, "agent_completed")
        check_run(
            run_events(frames, run_id),
            await stored_run(http, other, user, run_id),  # the node that ended it
            {"call_0": "approve"},
        )
        assert logged_runs(log) == {("across", other.process.pid): 1}

        # The same answer to both nodes at the same moment: one 202, one 409, one run.
        run_id = (await watcher.chat("delete racing"))["run_id"]
        frames = await until_event(watcher, run_id, "approval_requested")
        path = f"/runs/{run_id}/approvals/call_0"
        answers = await asyncio.gather(
            *(
                http.post(node.base_url + path, json={"decision": "approve"}, headers=user.headers)
                for node in (runner, other)
            )
        )
        assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
        frames += await until_event(watcher, run_id, "agent_completed")
        winner = (runner, other)[[a.status_code for a in answers].index(202)]
        check_run(
            run_events(frames, run_id),
            await stored_run(http, winner, user, run_id),
            {"call_0": "approve"},
        )
        assert logged_runs(log)[("racing", winner.process.pid)] == 1
        assert sum(n for (title, _), n in logged_runs(log).items() if title == "racing") == 1

        # A cancel at one node and an approve at the other at once: whichever wins, the
        # run ends cancelled (its next call waits for an answer nobody gives), once.
        run_id = (await watcher.chat("delete first-of-two second-of-two"))["run_id"]
        frames = await until_event(watcher, run_id, "approval_requested")
        cancelled, approved = await asyncio.gather(
            http.post(f"{other.base_url}/runs/{run_id}/cancel", headers=user.headers),
            http.post(
                runner.base_url + f"/runs/{run_id}/approvals/call_0",
                json={"decision": "approve"},
                headers=user.headers,
            ),
        )
        assert cancelled.status_code == 202, cancelled.text
        assert approved.status_code in (202, 409), approved.text
        frames += await until_event(watcher, run_id, "agent_completed")
        seen = run_events(frames, run_id)
        kinds = [e["type"] for e in seen]
        assert kinds.count("agent_completed") == 1
        assert seen[-1]["data"]["status"] == "cancelled"
        resolved = [e["data"] for e in seen if e["type"] == "approval_resolved"]
        ran = logged_runs(log)
        assert sum(n for (title, _), n in ran.items() if title == "second-of-two") == 0
        first = sum(n for (title, _), n in ran.items() if title == "first-of-two")
        if approved.status_code == 409:  # the cancel took it first: nothing ran
            assert (resolved, first) == ([], 0)
        else:
            assert resolved == [{"call_id": "call_0", "decision": "approve", "by": "user"}]
            assert first <= 1  # the cancel may stop the call it let run, mid-call
