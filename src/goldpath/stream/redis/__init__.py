"""User streams in Redis, shared by every process on the same Redis (extra ``goldpath[redis]``).

A user's events, appended in any process, reach that user's subscribers in every process,
with the in-memory backend's guarantees: gapless offsets from 1, an epoch that changes when
Redis lost the history, bounded history for resume, bounded subscriber queues. Keys and
scripts: `goldpath.stream.redis._scripts`; live delivery: `goldpath.stream.redis._live`;
docs/architecture.md ("The Redis user stream") says what is kept and in which order.

This package is the only importer of ``redis``; ``import goldpath`` does not load it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from goldpath.errors import ConfigurationError, StreamError
from goldpath.events import Event, EventData, decode_event, frame_parts
from goldpath.stream._base import Replay, Resync, StreamHub, Subscription, UserStream
from goldpath.stream.redis._live import LiveFanout
from goldpath.stream.redis._scripts import APPEND, NEW_EPOCH, POSITION, READ, UserKeys

__all__ = ["RedisStreamHub", "RedisUserStream", "connect_redis"]

DEFAULT_PREFIX = "goldpath:"
COMMAND_TIMEOUT = 5.0
"""Seconds a Redis command may take: an append that takes longer has failed (a stalled
Redis must not hold a run, or a socket, in silence)."""

logger = logging.getLogger("goldpath.stream.redis")


class RedisUserStream(UserStream):
    """One user's stream in Redis; a cheap handle, made afresh by each `for_user`."""

    __slots__ = ("_hub", "keys", "user_id")

    def __init__(self, hub: RedisStreamHub, user_id: str) -> None:
        self._hub = hub
        self.user_id = user_id
        self.keys = UserKeys.of(hub.prefix, user_id)

    async def position(self) -> tuple[str, int]:
        keys = self.keys
        reply = await self._hub.run(
            "POSITION", self, [keys.meta, keys.events], [_candidate(), self._hub.ttl_ms]
        )
        return str(reply[0]), int(reply[1])

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        # Encoded once, here; the script puts the offset it assigns between the two parts.
        head, tail = frame_parts(run_id, thread_id, agent, ts, data)
        hub, keys = self._hub, self.keys
        reply = await hub.run(
            "APPEND",
            self,
            [keys.meta, keys.events],
            [
                _candidate(),
                head,
                tail,
                hub.history_events,
                hub.history_ms,
                hub.history_cap,
                hub.ttl_ms,
                keys.channel,
            ],
        )
        offset = int(reply[0])
        frame = f"{head}{offset}{tail}"
        return Event(offset, run_id, thread_id, agent, ts, data, json=frame, epoch=str(reply[1]))

    async def read_after(self, epoch: str, offset: int) -> Replay | Resync:
        keys = self.keys
        reply = await self._hub.run(
            "READ", self, [keys.meta, keys.events], [_candidate(), epoch, offset, self._hub.ttl_ms]
        )
        current, latest, entries = str(reply[0]), int(reply[1]), reply[2]
        if epoch != current:
            return Resync("epoch_changed", current, latest)
        if offset < 0:
            return Resync("offset_invalid", current, latest)
        if offset > latest:
            return Resync("offset_ahead", current, latest)
        if offset == latest:
            return Replay((), latest)
        events = tuple(decode_event(_frame_of(fields), current) for _id, fields in entries)
        if len(events) != latest - offset or events[0].offset != offset + 1:
            return Resync("history_expired", current, latest)  # trimmed, expired or evicted
        return Replay(events, latest)

    async def subscribe(self, limit: int | None = None) -> Subscription:
        if limit is not None and limit < 1:
            raise ValueError(f"a subscription's queue limit must be at least 1, not {limit}")
        hub = self._hub
        hub.keep_alive()
        return await hub.live.subscribe(self, hub.queue_limit if limit is None else limit)

    def unsubscribe(self, subscription: Subscription) -> None:
        self._hub.live.unsubscribe(self, subscription)

    @property
    def subscriber_count(self) -> int:
        """Subscribers of this user in this process."""
        return self._hub.live.subscriber_count(self)


async def connect_redis(url: str) -> Redis:
    """A client of the Redis at ``url`` with goldpath's timeouts, checked with a PING: an
    unreachable Redis is a `ConfigurationError` at start-up rather than a failure at the
    first event. The cluster's client is made here too, the same way."""
    try:
        # Keepalive: a pub/sub connection only reads, so a dead peer must show.
        client: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=COMMAND_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            socket_keepalive=True,
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"GOLDPATH_REDIS_URL {redacted(url)!r} is not a Redis URL ({exc}); "
            "write it as redis://host:6379/0 (rediss:// for TLS)"
        ) from exc
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise ConfigurationError(
            f"cannot reach Redis at {redacted(url)} ({exc}); check GOLDPATH_REDIS_URL "
            "and that Redis is running"
        ) from exc
    return client


class RedisStreamHub(StreamHub):
    """Every user's stream in one Redis, under ``prefix``.

    History: at least the last ``history_events`` events or those younger than
    ``history_seconds``, whichever is more, never more than ``history_cap`` (default ten
    times ``history_events``). A stream nobody appended to or subscribed to for
    ``idle_seconds`` (default ``history_seconds``) expires in Redis, and its next event
    starts a new epoch, as a forgotten in-memory stream does; the streams of users with a
    subscriber here are kept alive, as in memory.
    """

    __slots__ = (
        "_client",
        "_damaged",
        "_keeper",
        "_repairer",
        "_scripts",
        "history_cap",
        "history_events",
        "history_ms",
        "live",
        "prefix",
        "queue_limit",
        "ttl_ms",
    )

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        history_events: int = 1000,
        history_seconds: float = 600.0,
        history_cap: int | None = None,
        queue_limit: int = 1000,
        idle_seconds: float | None = None,
    ) -> None:
        cap = history_cap if history_cap is not None else history_events * 10
        if history_events < 1 or cap < history_events or history_seconds <= 0:
            raise ConfigurationError(
                "the stream history needs history_events >= 1, history_cap >= history_events "
                f"and history_seconds > 0; got {history_events}, {cap}, {history_seconds}"
            )
        if queue_limit < 1:
            raise ConfigurationError(f"queue_limit must be at least 1, not {queue_limit}")
        self._client = client
        self.prefix = prefix
        self.history_events = history_events
        self.history_ms = int(history_seconds * 1000)
        self.history_cap = cap
        self.queue_limit = queue_limit
        idle = idle_seconds if idle_seconds is not None else history_seconds
        self.ttl_ms = int(max(idle, history_seconds) * 1000)
        self._scripts = {
            "APPEND": client.register_script(APPEND),
            "NEW_EPOCH": client.register_script(NEW_EPOCH),
            "POSITION": client.register_script(POSITION),
            "READ": client.register_script(READ),
        }
        self.live = LiveFanout(client.pubsub())
        self._keeper: asyncio.Task[None] | None = None
        self._damaged: dict[str, RedisUserStream] = {}  # users whose appends were lost
        self._repairer: asyncio.Task[None] | None = None

    @classmethod
    async def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        history_events: int = 1000,
        history_seconds: float = 600.0,
        history_cap: int | None = None,
        queue_limit: int = 1000,
        idle_seconds: float | None = None,
    ) -> RedisStreamHub:
        """A hub on the Redis at ``url``, checked with a PING: an unreachable Redis is a
        `ConfigurationError` at start-up rather than a failure at the first event."""
        client = await connect_redis(url)
        return cls(
            client,
            prefix=prefix,
            history_events=history_events,
            history_seconds=history_seconds,
            history_cap=history_cap,
            queue_limit=queue_limit,
            idle_seconds=idle_seconds,
        )

    def for_user(self, user_id: str) -> RedisUserStream:
        """Cheap and synchronous: names the user's keys; Redis is asked on first use."""
        return RedisUserStream(self, user_id)

    async def run(
        self, script: str, stream: RedisUserStream, keys: list[str], args: list[Any]
    ) -> Any:
        """Run one of the scripts; a Redis failure becomes a `StreamError` saying what to check.

        A failed append may have lost an event the user's sockets will never see, so the
        user's stream is repaired (a new epoch: every socket resyncs) once Redis answers.
        """
        try:
            return await self._scripts[script](keys=keys, args=args)
        except (RedisError, OSError) as exc:
            if script == "APPEND":
                self._damaged[stream.user_id] = stream
                if self._repairer is None or self._repairer.done():
                    self._repairer = asyncio.create_task(self._repair(), name="goldpath-repair")
            raise StreamError(
                f"Redis failed on the stream of user {stream.user_id!r} ({script.lower()}): "
                f"{exc}; check that Redis is up and reachable at GOLDPATH_REDIS_URL"
            ) from exc

    def keep_alive(self) -> None:
        """Start refreshing the expiry of subscribed users' keys, once per hub."""
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_alive(), name="goldpath-redis-ttl")

    async def _keep_alive(self) -> None:
        """A user with an open socket and no event for the idle time must not lose the epoch
        under it: every third of the expiry, the keys of subscribed users get it afresh."""
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            streams = self.live.subscribed_streams()
            if not streams:
                continue
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for stream in streams:
                        pipe.pexpire(stream.keys.meta, self.ttl_ms)
                        pipe.pexpire(stream.keys.events, self.ttl_ms)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                logger.warning("could not refresh the expiry of %d streams: %s", len(streams), exc)

    async def _repair(self) -> None:
        """Wait for Redis to answer, then give each damaged user's stream a new epoch."""
        delay = 0.1
        while self._damaged:
            try:
                await self._client.ping()
                user_id, stream = next(iter(self._damaged.items()))
                keys = stream.keys
                await self._scripts["NEW_EPOCH"](
                    keys=[keys.meta, keys.events], args=[_candidate(), self.ttl_ms, keys.channel]
                )
            except (RedisError, OSError) as exc:
                logger.warning("Redis is still failing, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self._damaged.get(user_id) is stream:
                del self._damaged[user_id]
            logger.warning("the stream of user %s lost events; its sockets resync", user_id)

    async def check(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise StreamError(f"Redis does not answer PING: {exc}") from exc

    async def close(self) -> None:
        """Close every local subscriber and the connections; the streams stay in Redis."""
        for task in (self._keeper, self._repairer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.live.close()
        await self._client.aclose()


def _candidate() -> str:
    """A fresh epoch, used by a script only if the stream has none (a new or lost history)."""
    return uuid.uuid4().hex


def _frame_of(fields: list[str]) -> str:
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    return values["f"]


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
