"""200 users at once through ONE factory and ONE hub: each hears all of its own events, only."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from goldpath.context import UserExecutionContext
from goldpath.errors import TooManyRunsError
from goldpath.events import AgentCompleted, Event
from goldpath.models import Pause, TextDelta, Thought, ToolCall
from goldpath.stream import InMemoryStreamHub, Subscription
from tests.helpers import (
    assert_gapless,
    assert_run_shape,
    history,
    make_factory,
    scripted,
    user_stream,
)

pytestmark = pytest.mark.integration

USERS = 200
RUNS_PER_USER = 2  # in flight together, within the default four slots


async def _listen(subscription: Subscription, runs: int) -> list[Event]:
    """Read the user's live events until ``runs`` runs have completed."""
    received: list[Event] = []
    completed = 0
    async with asyncio.timeout(30):
        while completed < runs:
            event = await subscription.get()
            received.append(event)
            completed += isinstance(event.data, AgentCompleted)
    return received


async def test_two_hundred_users_each_receive_only_their_own_events() -> None:
    model = scripted(
        [Thought("adding"), Pause(0), ToolCall("c1", "calculator", {"expression": "17*23"})],
        [TextDelta("17 * 23 "), Pause(0), TextDelta("= "), Pause(0), TextDelta("391.")],
    )
    hub = InMemoryStreamHub()
    factory = make_factory(model, hub=hub)
    users = [f"user_{n:03d}" for n in range(USERS)]
    contexts = {
        user: [
            UserExecutionContext.create(user, f"{user}_thread_{r}") for r in range(RUNS_PER_USER)
        ]
        for user in users
    }
    subscriptions = {user: await hub.for_user(user).subscribe() for user in users}
    listeners = {
        user: asyncio.create_task(_listen(subscriptions[user], RUNS_PER_USER)) for user in users
    }

    async def run(context: UserExecutionContext) -> str | None:
        async with factory.user_execution_engine(context) as engine:
            outcome = await engine.run("supervisor", "What is 17 * 23?")
        return outcome.text

    answers = await asyncio.gather(*(run(ctx) for user in users for ctx in contexts[user]))
    assert answers == ["17 * 23 = 391."] * (USERS * RUNS_PER_USER)
    received = {user: await listeners[user] for user in users}

    for user in users:
        events = received[user]
        own_runs = {ctx.run_id for ctx in contexts[user]}
        own_threads = {ctx.thread_id for ctx in contexts[user]}
        assert {e.run_id for e in events} == own_runs, user
        assert {e.thread_id for e in events} <= own_threads, user
        assert_gapless(events)
        assert events == await history(hub.for_user(user))  # all of them, in order
        by_run: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_run[event.run_id].append(event)
        for run_events in by_run.values():
            assert_run_shape(run_events)
            assert len({e.thread_id for e in run_events}) == 1
        assert subscriptions[user].pending() == 0
        assert factory.runs_in_flight(user) == 0


async def test_one_users_full_slots_do_not_limit_another() -> None:
    factory = make_factory(scripted([Pause(30)]))
    busy = UserExecutionContext.create("busy", "t")
    started = await user_stream(factory, "busy").subscribe()
    bystander = await user_stream(factory, "calm").subscribe()

    async def hold() -> None:
        async with factory.user_execution_engine(busy) as engine:
            await engine.run("supervisor", "wait")

    holders = [asyncio.create_task(hold()) for _ in range(4)]
    for _ in holders:
        await started.get()  # each agent_started: the four slots are taken
    with pytest.raises(TooManyRunsError):
        async with factory.user_execution_engine(busy):
            pass  # pragma: no cover - never entered
    calm = UserExecutionContext.create("calm", "t")
    async with factory.user_execution_engine(calm):
        assert factory.runs_in_flight("calm") == 1
    for holder in holders:
        holder.cancel()
    results = await asyncio.gather(*holders, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert factory.runs_in_flight("busy") == 0
    assert bystander.pending() == 0
    events = await history(user_stream(factory, "busy"))
    assert [e.type for e in events].count("agent_completed") == 4
