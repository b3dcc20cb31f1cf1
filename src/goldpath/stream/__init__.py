"""User streams: per-user ordered logs with offsets, an epoch, history and live subscribers."""

from goldpath.stream._base import Replay, Resync, StreamHub, Subscription, UserStream
from goldpath.stream.memory import InMemoryStreamHub, InMemoryUserStream

__all__ = [
    "InMemoryStreamHub",
    "InMemoryUserStream",
    "Replay",
    "Resync",
    "StreamHub",
    "Subscription",
    "UserStream",
]
