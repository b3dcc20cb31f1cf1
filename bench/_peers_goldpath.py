"""goldpath's side of the benchmark, on its golden path.

Each user is connected before its runs start: the user's stream and one subscriber on it,
drained by its own task, as the server's WebSocket would. That connection is made once per
user and is not part of a run. A run is what a ``chat`` frame starts: a fresh
`UserExecutionContext`, ``factory.user_execution_engine(ctx)`` and
``engine.run("supervisor", msg)`` with a `goldpath.ScriptedModel`; it is done when its
subscriber has drained its ``agent_completed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from _peers_common import EXPRESSION, GATE, PROMPT, RunOnce, RunResult, answer_tokens

import goldpath
from goldpath import (
    ExecutionEngineFactory,
    InMemoryStreamHub,
    Message,
    RunLimits,
    ScriptedModel,
    Subscription,
    TextDelta,
    ToolCall,
    UserExecutionContext,
)
from goldpath.models import ModelOutput

NAME = "goldpath"
DISTRIBUTION = "goldpath"
IMPORT = "import goldpath"


def scripted_model() -> ScriptedModel:
    """The brief's model: one calculator call, then the 20-token answer."""
    return ScriptedModel(
        [
            [ToolCall("call_calculator_1", "calculator", {"expression": EXPRESSION})],
            [TextDelta(token) for token in answer_tokens("391")],
        ]
    )


class GatedModel:
    """The scripted model, waiting at `GATE` before its answer turn (memory phase only)."""

    def __init__(self, inner: ScriptedModel) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        if messages[-1].role == "tool":
            await GATE.wait()
        async for output in self._inner.stream(messages, tools):
            yield output


class _Connection:
    """One connected user: a subscriber on the user's stream and the task draining it."""

    __slots__ = ("done", "events", "pieces", "subscription", "task", "tool_result")

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.done: asyncio.Future[str | None] | None = None
        self.events = 0
        self.pieces: list[str] = []
        self.tool_result: str | None = None
        self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Reads every event of the user; settles ``done`` at each ``agent_completed``."""
        async for event in self.subscription:
            self.events += 1
            data = event.data
            if isinstance(data, goldpath.MessageDelta):
                self.pieces.append(data.delta)
            elif isinstance(data, goldpath.ToolCompleted):
                self.tool_result = str(data.result)
            elif isinstance(data, goldpath.AgentCompleted) and self.done is not None:
                self.done.set_result(data.text if data.status == "ok" else data.error)


class GoldpathBench:
    """A factory, a hub, and one connection per user (made on first use)."""

    def __init__(
        self,
        *,
        gated: bool = False,
        max_users: int = 1000,
        history_events: int = 1000,
        history_seconds: float = 600.0,
    ) -> None:
        model = scripted_model()
        self.hub = InMemoryStreamHub(history_events=history_events, history_seconds=history_seconds)
        self.factory = ExecutionEngineFactory(
            streams=self.hub,
            model=GatedModel(model) if gated else model,
            limits=RunLimits(max_runs_per_user=4),
        )
        self._connections: dict[str, _Connection] = {}
        self._max_users = max_users

    async def connect(self, user_id: str) -> _Connection:
        connection = self._connections.get(user_id)
        if connection is None:
            subscription = await self.hub.for_user(user_id).subscribe(limit=10_000)
            connection = self._connections[user_id] = _Connection(subscription)
        return connection

    async def prepare(self) -> None:
        """Connect every user, as the server would before they send a message."""
        for i in range(self._max_users):
            await self.connect(f"user-{i}")

    async def run_once(self, i: int) -> RunResult:
        """One run for user ``i % max_users``, complete when its subscriber saw the end."""
        user_id = f"user-{i % self._max_users}"
        connection = await self.connect(user_id)
        connection.done = asyncio.get_running_loop().create_future()
        connection.events, connection.pieces, connection.tool_result = 0, [], None
        context = UserExecutionContext.create(user_id, f"thread-{user_id}")
        async with self.factory.user_execution_engine(context) as engine:
            outcome = await engine.run("supervisor", PROMPT)
        final = await connection.done
        connection.done = None
        streamed = "".join(connection.pieces)
        text = outcome.text if final == outcome.text == streamed else None
        return RunResult(text, connection.events, connection.tool_result)

    async def close(self) -> None:
        for connection in self._connections.values():
            connection.subscription.close()
            await connection.task


def build(*, gated: bool, concurrency: int) -> tuple[RunOnce, Any]:
    """The run function, and the bench object that keeps the connections alive."""
    bench = GoldpathBench(gated=gated, max_users=concurrency)
    return bench.run_once, bench
