"""Live fan-out across processes: one pub/sub connection per hub, one reader task.

The hub subscribes to the channel of each user who has a subscriber in this process, and
only while they do. The reader task is the only code that moves a user's ``last`` offset
and delivers events, so events reach local subscribers in offset order, each once:

- a channel is *ready* once Redis confirmed the SUBSCRIBE and the reader then read the
  stream's position; every event after that position is published after the channel was
  live, so it arrives on the channel (or is filled in, below);
- an event whose offset skips ahead (messages lost while the connection was down) makes
  the reader read the missing ones from the stream (XRANGE) first;
- after a reconnect redis-py subscribes again, and the confirmation makes the reader catch
  up from the stream even if no new event ever arrives;
- an event of another epoch (Redis lost the history) closes the subscribers with
  ``epoch_changed``; history that is gone closes them with ``history_expired``.

SUBSCRIBE and UNSUBSCRIBE go through one queue and one task, so Redis sees them in the
order the subscribers came and went.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from goldpath.errors import StreamError
from goldpath.events import decode_event
from goldpath.stream._base import Replay, Resync, Subscription

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from goldpath.stream.redis import RedisUserStream

__all__ = ["LiveFanout"]

logger = logging.getLogger("goldpath.stream.redis")

READY_TIMEOUT = 10.0
"""Seconds a new subscriber waits for Redis to confirm its user's channel."""


class _Channel:
    """This process's view of one user's live events."""

    __slots__ = ("epoch", "last", "ready", "stream", "subscribers", "waiting")

    def __init__(self, stream: RedisUserStream, ready: asyncio.Future[None]) -> None:
        self.stream = stream
        self.ready = ready
        self.epoch = ""
        self.last = 0  # the newest offset delivered to this process's subscribers
        self.subscribers: list[Subscription] = []
        self.waiting = 0  # subscribe() calls waiting for ``ready``


class LiveFanout:
    """Delivers each user's published events to that user's subscribers in this process."""

    __slots__ = ("_channels", "_closed", "_commands", "_control", "_pubsub", "_reader")

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._channels: dict[str, _Channel] = {}
        self._commands: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._control: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    async def subscribe(self, stream: RedisUserStream, limit: int) -> Subscription:
        name = stream.keys.channel
        while True:
            if self._closed:
                raise StreamError("this Redis stream hub is closed; subscribe through the open one")
            channel = self._channels.get(name)
            if channel is None:
                ready = asyncio.get_running_loop().create_future()
                channel = self._channels[name] = _Channel(stream, ready)
                self._command("subscribe", name)
            if not channel.ready.done():
                await self._wait_ready(name, channel)
            if self._channels.get(name) is not channel:
                continue  # dropped (a new epoch) before this waiter ran: start afresh
            if channel.ready.exception() is not None:  # failed, and not yet forgotten
                raise StreamError(f"Redis could not open {name}: {channel.ready.exception()}")
            subscription = Subscription(channel.last, limit, stream, channel.epoch)
            channel.subscribers.append(subscription)
            return subscription

    async def _wait_ready(self, name: str, channel: _Channel) -> None:
        channel.waiting += 1
        try:
            await asyncio.wait_for(asyncio.shield(channel.ready), READY_TIMEOUT)
        except BaseException as exc:  # timed out, failed or cancelled: nobody joins
            channel.waiting -= 1
            if isinstance(exc, TimeoutError):
                self._drop(name, channel, StreamError(_unconfirmed(name)))
                raise StreamError(_unconfirmed(name)) from None
            self._forget_if_unused(name, channel)
            raise
        channel.waiting -= 1

    def unsubscribe(self, stream: RedisUserStream, subscription: Subscription) -> None:
        name = stream.keys.channel
        channel = self._channels.get(name)
        if channel is not None and subscription in channel.subscribers:
            channel.subscribers.remove(subscription)
            self._forget_if_unused(name, channel)

    def subscriber_count(self, stream: RedisUserStream) -> int:
        channel = self._channels.get(stream.keys.channel)
        return len(channel.subscribers) if channel is not None else 0

    def subscribed_streams(self) -> list[RedisUserStream]:
        """The streams of the users with a subscriber in this process."""
        return [channel.stream for channel in self._channels.values() if channel.subscribers]

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    async def close(self) -> None:
        """Close every subscriber, stop the tasks, release the pub/sub connection."""
        self._closed = True
        for channel in list(self._channels.values()):
            if not channel.ready.done():  # waiters raise now rather than at their timeout
                channel.ready.set_exception(StreamError("the Redis stream hub was closed"))
                channel.ready.exception()
            for subscription in tuple(channel.subscribers):
                subscription.close()
        self._channels.clear()
        tasks = [task for task in (self._control, self._reader) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()

    # keeping the channel set

    def _forget_if_unused(self, name: str, channel: _Channel) -> None:
        """Unsubscribe a ready channel nobody uses or waits for (never one still opening,
        so a confirmation is never taken for a later channel of the same name)."""
        if channel.subscribers or channel.waiting or not channel.ready.done():
            return
        if self._channels.get(name) is channel:
            del self._channels[name]
            self._command("unsubscribe", name)

    def _drop(self, name: str, channel: _Channel, error: Exception) -> None:
        if not channel.ready.done():
            channel.ready.set_exception(error)
            channel.ready.exception()  # retrieved: each waiter raises its own StreamError
        self._forget_if_unused(name, channel)

    def _command(self, action: str, name: str) -> None:
        if self._closed:
            return
        self._commands.put_nowait((action, name))
        if self._control is None:
            self._control = asyncio.create_task(self._run_commands(), name="goldpath-redis-sub")

    async def _run_commands(self) -> None:
        while True:
            action, name = await self._commands.get()
            try:
                if action == "subscribe":
                    await self._pubsub.subscribe(name)
                else:
                    await self._pubsub.unsubscribe(name)
            except (RedisError, OSError) as exc:
                logger.warning("Redis %s of %s failed: %s", action, name, exc)
                channel = self._channels.get(name)
                if action == "subscribe" and channel is not None:
                    self._drop(name, channel, StreamError(f"Redis refused {name}: {exc}"))
                continue
            if self._reader is None:
                self._reader = asyncio.create_task(self._read(), name="goldpath-redis-live")

    # the reader

    async def _read(self) -> None:
        pubsub, delay = self._pubsub, 0.05
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                logger.warning("Redis pub/sub failed, reconnecting in %.2fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            if message is None:
                continue
            try:
                if message["type"] == "message":
                    await self._on_message(message["channel"], message["data"])
                elif message["type"] == "subscribe":
                    await self._on_subscribed(message["channel"])
            except (StreamError, RedisError, OSError) as exc:
                # Cannot read the stream to stay gapless: the subscribers start again.
                logger.warning("Redis read failed while delivering: %s", exc)
                channel = self._channels.get(message["channel"])
                if channel is not None:
                    self._close_all(channel, "history_expired")
            except Exception:  # a bug must not stop delivery to every other user
                logger.exception("delivering a message of %s failed", message.get("channel"))

    async def _on_subscribed(self, name: str) -> None:
        channel = self._channels.get(name)
        if channel is None:
            return  # unsubscribed since; its UNSUBSCRIBE follows
        if channel.ready.done():  # subscribed again after a reconnect: catch up
            answer = await channel.stream.read_after(channel.epoch, channel.last)
            self._deliver_replay(channel, answer)
            return
        try:
            channel.epoch, channel.last = await channel.stream.position()
        except StreamError as exc:
            self._drop(name, channel, exc)
            return
        channel.ready.set_result(None)
        self._forget_if_unused(name, channel)  # every waiter gave up already

    async def _on_message(self, name: str, data: Any) -> None:
        channel = self._channels.get(name)
        if channel is None or not channel.ready.done() or channel.ready.exception():
            return  # not ready: the position read after the confirmation covers it
        epoch, _, frame = str(data).partition(" ")
        if epoch != channel.epoch:
            self._close_all(channel, "epoch_changed")
            return
        try:
            event = decode_event(frame, epoch)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("a frame on %s is not an event, skipped: %s", name, exc)
            return
        if event.offset <= channel.last:
            return  # already delivered by a catch-up
        if event.offset > channel.last + 1:  # missed while disconnected: fill from history
            answer = await channel.stream.read_after(channel.epoch, channel.last)
            if not self._deliver_replay(channel, answer) or event.offset <= channel.last:
                return
        channel.last = event.offset
        for subscription in tuple(channel.subscribers):
            subscription.deliver(event)

    def _deliver_replay(self, channel: _Channel, answer: Replay | Resync) -> bool:
        """Deliver the events a catch-up read found; False when it could not find them all."""
        if isinstance(answer, Resync):
            self._close_all(channel, answer.reason)
            return False
        for event in answer.events:
            if event.offset > channel.last:
                channel.last = event.offset
                for subscription in tuple(channel.subscribers):
                    subscription.deliver(event)
        return True

    def _close_all(self, channel: _Channel, reason: str) -> None:
        """Drop every local subscriber of the user; each resubscribes at the new position."""
        for subscription in tuple(channel.subscribers):
            subscription.close(reason)
        name = channel.stream.keys.channel
        if self._channels.get(name) is channel:  # a later subscriber must read afresh
            del self._channels[name]
            self._command("unsubscribe", name)


def _unconfirmed(name: str) -> str:
    return (
        f"Redis did not confirm the subscription to {name} within {READY_TIMEOUT:g}s; "
        "check that Redis is up and reachable at GOLDPATH_REDIS_URL"
    )
