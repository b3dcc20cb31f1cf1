"""The cluster on Redis: every node on one Redis shares slots, rate windows and cancels.

Keys and scripts: `goldpath.cluster.redis._scripts`. This package imports ``redis``;
``goldpath.cluster`` does not load it unless Redis is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from goldpath.cluster._base import CancelHandler, Cluster, RateWindow, new_node_id
from goldpath.cluster.redis._scripts import RATE_HIT, RENEW_SLOTS, TAKE_SLOT
from goldpath.context import UserExecutionContext
from goldpath.errors import StreamError, TooManyRunsError
from goldpath.factory import RunSlots
from goldpath.stream.redis import connect_redis

__all__ = ["RedisCluster", "RedisRateWindow", "RedisRunSlots"]

logger = logging.getLogger("goldpath.cluster")

COMMAND_TIMEOUT = 5.0
"""Seconds a Redis command may take before it counts as failed."""


def _failed(action: str, exc: BaseException) -> StreamError:
    return StreamError(
        f"Redis failed to {action}: {exc}; check that Redis is up and reachable at "
        "GOLDPATH_REDIS_URL"
    )


class RedisRunSlots(RunSlots):
    """The users' run slots in Redis, shared by every node; each slot expires unless the
    node holding it renews it (`renew`), so a stopped node's slots come back by themselves."""

    __slots__ = ("_client", "_held", "_prefix", "_renew", "_take", "_ttl_ms")

    def __init__(self, client: Redis, prefix: str, ttl_seconds: float) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._take = client.register_script(TAKE_SLOT)
        self._renew = client.register_script(RENEW_SLOTS)
        self._held: dict[str, str] = {}  # run id -> user id, of the runs holding one here

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}slots:{user_id}"

    async def take(self, context: UserExecutionContext, limit: int) -> None:
        try:
            taken = await self._take(
                keys=[self._key(context.user_id)], args=[context.run_id, limit, self._ttl_ms]
            )
        except (RedisError, OSError) as exc:
            raise _failed("take a run slot", exc) from exc
        if not taken:
            raise TooManyRunsError(context.user_id, limit)
        self._held[context.run_id] = context.user_id

    async def release(self, context: UserExecutionContext) -> None:
        self._held.pop(context.run_id, None)
        try:
            await self._client.zrem(self._key(context.user_id), context.run_id)
        except (RedisError, OSError) as exc:  # it expires by itself
            logger.warning("could not give back the slot of run %s: %s", context.run_id, exc)

    def in_flight(self, user_id: str) -> int:
        return sum(1 for owner in self._held.values() if owner == user_id)

    async def renew(self, run_ids: frozenset[str]) -> None:
        held = [(run_id, user) for run_id, user in self._held.items() if run_id in run_ids]
        if not held:
            return
        try:
            await self._renew(
                keys=[self._key(user) for _, user in held],
                args=[self._ttl_ms, *(run_id for run_id, _ in held)],
            )
        except (RedisError, OSError) as exc:
            raise _failed("renew the run slots", exc) from exc


class RedisRateWindow(RateWindow):
    """A sliding window in Redis, one sorted set per key; see `_scripts.RATE_HIT`."""

    __slots__ = ("_client", "_hit", "_limit", "_prefix", "_window_ms")

    def __init__(self, client: Redis, prefix: str, limit: int, seconds: float) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = limit
        self._window_ms = max(1, int(seconds * 1000))
        self._hit = client.register_script(RATE_HIT)

    @property
    def limit(self) -> int:
        return self._limit

    async def _run(self, key: str, hit: str, mode: str) -> int:
        """The script in ``mode``; the wait in whole seconds (0: allowed)."""
        try:
            wait_ms = int(
                await self._hit(
                    keys=[self._prefix + key], args=[self._window_ms, self._limit, hit, mode]
                )
            )
        except (RedisError, OSError) as exc:
            raise _failed("check a rate limit", exc) from exc
        return max(1, math.ceil(wait_ms / 1000)) if wait_ms else 0

    async def reserve(self, key: str) -> tuple[int, str | None]:
        hit = uuid.uuid4().hex
        wait = await self._run(key, hit, "reserve")
        return (wait, None) if wait else (0, hit)

    async def wait(self, key: str) -> int:
        return await self._run(key, "", "check")

    async def record(self, key: str) -> None:
        await self._run(key, uuid.uuid4().hex, "record")

    async def release(self, key: str, hit: str) -> None:
        try:
            await self._client.zrem(self._prefix + key, hit)
        except (RedisError, OSError) as exc:
            raise _failed("undo a rate-limit hit", exc) from exc


class RedisCluster(Cluster):
    """Every node on one Redis: shared slots and windows, cancels by pub/sub."""

    __slots__ = ("_client", "_listener", "_prefix", "_slots", "node_id")

    def __init__(
        self, client: Redis, *, prefix: str, slot_seconds: float, node_id: str | None = None
    ) -> None:
        self.node_id = node_id or new_node_id()
        self._client = client
        self._prefix = prefix
        self._slots = RedisRunSlots(client, prefix, slot_seconds)
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def from_url(cls, url: str, *, prefix: str, slot_seconds: float) -> RedisCluster:
        """A cluster on the Redis at ``url``, checked with a PING (`ConfigurationError`)."""
        client = await connect_redis(url)
        return cls(client, prefix=prefix, slot_seconds=slot_seconds)

    @property
    def slots(self) -> RunSlots:
        return self._slots

    def window(self, name: str, limit: int, seconds: float) -> RateWindow:
        return RedisRateWindow(self._client, f"{self._prefix}rate:{name}:", limit, seconds)

    def _channel(self, node_id: str) -> str:
        return f"{self._prefix}node:{node_id}:cancel"

    async def start(self, on_cancel: CancelHandler) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self._channel(self.node_id))
        except (RedisError, OSError) as exc:
            raise _failed("subscribe to this node's cancels", exc) from exc
        self._listener = asyncio.create_task(
            self._listen(pubsub, on_cancel), name="goldpath-cancels"
        )

    async def _listen(self, pubsub: Any, on_cancel: CancelHandler) -> None:
        delay = 0.05
        try:
            while True:
                try:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=COMMAND_TIMEOUT / 2
                    )
                except (RedisError, OSError) as exc:
                    logger.warning("cancel channel failed, reconnecting in %.2f s: %s", delay, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                delay = 0.05
                if message is not None and message["type"] == "message":
                    on_cancel(str(message["data"]))
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def send_cancel(self, node_id: str, run_id: str) -> bool:
        try:
            return bool(await self._client.publish(self._channel(node_id), run_id))
        except (RedisError, OSError) as exc:
            raise _failed("send a cancel", exc) from exc

    async def heartbeat(self, run_ids: frozenset[str]) -> None:
        await self._slots.renew(run_ids)

    async def check(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise StreamError(f"Redis does not answer PING: {exc}") from exc

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()
