"""What a resume replays: the stream's own history, or the stored events when it dropped them.

`/ws`'s ``resume`` and `/stream`'s ``Last-Event-ID`` both ask `read_after`. The user
stream keeps a bounded history; the store keeps every event of every run with the epoch
and offset it was sent with. So when the stream answers ``history_expired`` for an offset
of its current epoch, the stored events of that epoch fill the gap, as long as they run on
from the offset asked with no gap up to where the stream's history still answers.
Otherwise the answer stays the stream's ``resync``: a replay is whole or not given.
"""

from __future__ import annotations

from goldpath.events import decode_event
from goldpath.store import RunEventRecord, Store
from goldpath.stream import Replay, Resync, UserStream

__all__ = ["STORED_REPLAY_LIMIT", "read_after"]

STORED_REPLAY_LIMIT = 10_000
"""At most this many stored events fill one replay; a longer gap is a ``resync``."""


async def read_after(
    stream: UserStream, store: Store, user_id: str, epoch: str, offset: int
) -> Replay | Resync:
    """Every event of ``user_id``'s stream after ``offset`` of ``epoch``, or why not."""
    answer = await stream.read_after(epoch, offset)
    if not isinstance(answer, Resync) or answer.reason != "history_expired":
        return answer
    stored = await store.list_stream_events(user_id, epoch, after=offset, limit=STORED_REPLAY_LIMIT)
    gapless: list[RunEventRecord] = []
    for event in stored:
        if event.offset != offset + len(gapless) + 1:
            break
        gapless.append(event)
    if not gapless:
        return answer
    rest = await stream.read_after(epoch, gapless[-1].offset)
    if isinstance(rest, Resync):
        return rest
    replay = tuple(decode_event(event.frame, epoch) for event in gapless)
    return Replay(replay + rest.events, rest.offset)
