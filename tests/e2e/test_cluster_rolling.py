"""A rolling restart of three real nodes while thirty users chat.

Each node in turn gets a replacement and then SIGTERM. A user's socket on the stopping
node is closed with 1012; its client reconnects to a live node and resumes from the last
offset it saw. Then: every run ends with exactly one ``agent_completed``; runs on nodes
that stayed up end ``ok`` (no answer lost); every client's offsets run on without a gap.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.cluster import Node, Nodes, cluster
from tests.e2e.conftest import FRAME_TIMEOUT, User, WsClient, new_user

pytestmark = pytest.mark.e2e

USERS = 30


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with cluster(tmp_path, extra={"GOLDPATH_MESSAGES_PER_MINUTE": "100000"}) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=FRAME_TIMEOUT) as client:
        yield client


@dataclass
class Chatter:
    """One user's client: chats one run after another, moving node when closed."""

    user: User
    live: list[Node]
    turn: Iterator[int]
    epoch: str = ""
    offset: int = 0
    ends: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str | None] = field(default_factory=dict)
    interrupted: set[str] = field(default_factory=set)  # runs whose node stopped under them
    accepted: set[str] = field(default_factory=set)  # runs whose run_accepted arrived
    gaps: list[tuple[int, int]] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)  # the close codes it was sent
    chatting: asyncio.Event = field(default_factory=asyncio.Event)  # a first run ended

    async def _connect(self, resume: bool) -> WsClient:
        while True:
            node = self.live[next(self.turn) % len(self.live)]
            try:
                connection = await connect(
                    node.ws_url,
                    additional_headers={"Authorization": f"Bearer {self.user.token}"},
                )
            except OSError:
                continue  # stopped between the choice and the connect: another one
            client = WsClient(connection)
            ready = await client.recv()
            if not resume:
                self.epoch, self.offset = ready["stream"]["epoch"], ready["stream"]["offset"]
                return client
            await client.send({"type": "resume", "epoch": self.epoch, "offset": self.offset})
            answer = await client.recv()
            assert answer["type"] == "resumed", answer  # one epoch: every event is replayed
            return client

    def _take(self, frame: dict[str, Any]) -> None:
        if "offset" not in frame:
            return
        if frame["offset"] != self.offset + 1:
            self.gaps.append((self.offset, frame["offset"]))
        self.offset = frame["offset"]
        if frame["type"] == "agent_completed":
            self.ends[frame["run_id"]] += 1
            self.statuses[frame["run_id"]] = frame["data"]["status"]
            self.errors[frame["run_id"]] = frame["data"].get("error")
            self.chatting.set()

    async def chat_until(self, stop: asyncio.Event) -> None:
        client = await self._connect(resume=False)
        pending: str | None = None  # a run of ours not ended yet
        while True:
            try:
                if pending is None:
                    if stop.is_set():
                        break
                    await client.send({"type": "chat", "message": "slow 6"})
                    while pending is None:
                        frame = await client.recv()
                        assert frame["type"] != "error", frame
                        if frame["type"] == "run_accepted":
                            pending = frame["run_id"]
                            self.accepted.add(pending)
                        self._take(frame)
                frame = await client.recv()
                self._take(frame)
                if pending in self.statuses:
                    pending = None
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd is not None else None)
                if pending is not None:
                    self.interrupted.add(pending)
                client = await self._connect(resume=True)
        await client.connection.close()


async def test_a_rolling_restart_loses_no_answer_and_no_event(
    nodes: Nodes, http: httpx.AsyncClient
) -> None:
    live = nodes.start(3)
    http.base_url = httpx.URL(live[0].base_url)
    users = [await new_user(http, f"rolling{i}") for i in range(USERS)]
    turn = itertools.count()
    chatters = [Chatter(user, live, turn) for user in users]
    stop = asyncio.Event()
    chatting = [asyncio.create_task(c.chat_until(stop)) for c in chatters]
    await asyncio.wait_for(asyncio.gather(*(c.chatting.wait() for c in chatters)), 120)
    for _ in range(3):  # the clients chat on while nodes start and stop (in threads)
        (replacement,) = await asyncio.to_thread(nodes.start, 1)
        old = live.pop(0)
        live.append(replacement)
        old.signal(signal.SIGTERM)
        assert await asyncio.to_thread(old.wait) in (0, -signal.SIGTERM)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*chatting), 120)
    for chatter in chatters:
        assert chatter.closes, "each client was on a node that stopped at least once"
        assert set(chatter.closes) == {1012}
        assert chatter.gaps == [], chatter.gaps
        assert set(chatter.ends.values()) == {1}, chatter.ends  # exactly one end each
        for run_id, status in chatter.statuses.items():
            # A run whose node stopped under it, or whose chat's socket closed before its
            # run_accepted came (the stopping node had taken it), may end cancelled.
            on_stopped = run_id in chatter.interrupted or run_id not in chatter.accepted
            expected = {"ok", "cancelled"} if on_stopped else {"ok"}
            assert status in expected, (run_id, status, chatter.errors[run_id])
