"""The cluster on a real Redis: several `RedisCluster` objects stand for several nodes.

Each check is one script, so concurrent requests from every node cannot both pass.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from goldpath.cluster.redis import RedisCluster
from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, TooManyRunsError
from tests.services import REDIS_HOST, REDIS_PORT, require_service

pytestmark = pytest.mark.integration

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
MakeNode = Callable[..., Awaitable[RedisCluster]]


@pytest.fixture
async def make_node() -> AsyncIterator[MakeNode]:
    """Makes nodes on a prefix of this test's own; closes them and deletes its keys."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"goldpath-test-{secrets.token_hex(6)}:"
    made: list[RedisCluster] = []

    async def make(slot_seconds: float = 30.0) -> RedisCluster:
        node = await RedisCluster.from_url(REDIS_URL, prefix=prefix, slot_seconds=slot_seconds)
        made.append(node)
        return node

    yield make
    for node in made:
        await node.close()
    client = Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_a_window_lets_exactly_its_limit_through_from_every_node(
    make_node: MakeNode,
) -> None:
    nodes = [await make_node() for _ in range(3)]
    windows = [node.window("messages", 10, 60.0) for node in nodes]
    results = await asyncio.gather(*(windows[i % 3].reserve("ann") for i in range(40)))
    hits = [hit for wait, hit in results if hit is not None]
    assert len(hits) == 10
    assert all(1 <= wait <= 60 for wait, hit in results if hit is None)
    assert await windows[0].try_hit("bob") == 0  # another key, its own window
    await windows[1].release("ann", hits[0])
    assert (await windows[2].reserve("ann"))[0] == 0  # the place given back
    assert (await windows[2].reserve("ann"))[0] > 0
    assert windows[0].limit == 10


async def test_a_window_forgets_hits_older_than_it(make_node: MakeNode) -> None:
    window = (await make_node()).window("login", 1, 0.2)
    assert await window.try_hit("ann") == 0
    assert await window.try_hit("ann") == 1  # whole seconds, at least 1
    await asyncio.sleep(0.25)
    assert await window.try_hit("ann") == 0


async def test_slots_are_shared_and_given_back(make_node: MakeNode) -> None:
    nodes = [await make_node() for _ in range(3)]
    contexts = [UserExecutionContext.create("ann", "thr_1") for _ in range(12)]
    results = await asyncio.gather(
        *(nodes[i % 3].slots.take(context, 4) for i, context in enumerate(contexts)),
        return_exceptions=True,
    )
    taken = [(i, c) for i, (c, r) in enumerate(zip(contexts, results, strict=True)) if r is None]
    assert len(taken) == 4
    assert all(isinstance(r, TooManyRunsError) for r in results if r is not None)
    assert sum(node.slots.in_flight("ann") for node in nodes) == 4
    index, context = taken[0]
    await nodes[index % 3].slots.release(context)
    await nodes[0].slots.take(UserExecutionContext.create("ann", "thr_1"), 4)
    with pytest.raises(TooManyRunsError):
        await nodes[1].slots.take(UserExecutionContext.create("ann", "thr_1"), 4)


async def test_a_slot_nobody_renews_expires_and_a_renewed_one_stays(
    make_node: MakeNode,
) -> None:
    dead, live = await make_node(slot_seconds=0.4), await make_node(slot_seconds=0.4)
    await dead.slots.take(UserExecutionContext.create("ann", "thr_1"), 2)
    kept = UserExecutionContext.create("ann", "thr_1")
    await live.slots.take(kept, 2)
    for _ in range(4):
        await asyncio.sleep(0.15)
        await live.heartbeat(frozenset({kept.run_id}))
    # dead's slot expired (0.6 s unrenewed), live's did not: one slot is free again.
    await live.slots.take(UserExecutionContext.create("ann", "thr_1"), 2)
    with pytest.raises(TooManyRunsError):
        await live.slots.take(UserExecutionContext.create("ann", "thr_1"), 2)
    await live.heartbeat(frozenset())  # nothing to renew


async def test_a_cancel_reaches_only_the_node_it_is_sent_to(make_node: MakeNode) -> None:
    runner, other = await make_node(), await make_node()
    got: asyncio.Queue[str] = asyncio.Queue()
    await runner.start(got.put_nowait)
    await other.start(lambda run_id: pytest.fail(f"other node was told to cancel {run_id}"))
    assert await other.send_cancel(runner.node_id, "run_1")
    assert await asyncio.wait_for(got.get(), 5) == "run_1"
    assert not await other.send_cancel("node_gone", "run_2")
    await runner.check()


async def test_an_unreachable_redis_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot reach Redis at redis://127\.0\.0\.1:9/0"):
        await RedisCluster.from_url("redis://127.0.0.1:9/0", prefix="x:", slot_seconds=1)


async def test_a_window_checks_and_records_apart(make_node: MakeNode) -> None:
    window = (await make_node()).window("login-address", 2, 60.0)
    assert await window.wait("1.2.3.4") == 0
    await window.record("1.2.3.4")
    await window.record("1.2.3.4")
    await window.record("1.2.3.4")  # whatever the count
    assert 1 <= await window.wait("1.2.3.4") <= 60
    assert (await window.reserve("1.2.3.4"))[1] is None
