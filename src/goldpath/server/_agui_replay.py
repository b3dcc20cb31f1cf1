"""What a resumed AG-UI response starts from: the goldpath events of one run known so far.

A run's events are found where they are: the store holds those written so far (in
batches, the rest with the run's end), and the user's stream holds the recent ones. The
two are joined at the last stored offset, so the result is the run's events in order, as
they were sent, each with the epoch of the stream that gave its offset. `RunMapping` over
them gives the same AG-UI events, ids and offsets as the live response gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from goldpath.events import AgentCompleted, Event, decode_event, utc_timestamp
from goldpath.store import RunEventRecord, RunRecord, Store
from goldpath.stream import Replay, UserStream

__all__ = ["KnownEvents", "SourcedEvent", "known_events", "terminal_of"]

PAGE = 1000


@dataclass(frozen=True, slots=True)
class SourcedEvent:
    """A goldpath event of the run and the epoch of the stream offset it was sent with."""

    epoch: str
    event: Event


@dataclass(frozen=True, slots=True)
class KnownEvents:
    """The run's events known now, oldest first. ``complete``: they are every event of the
    run from its first up to now, with none missing; otherwise some could not be found."""

    events: list[SourcedEvent]
    complete: bool


async def _stored(store: Store, user_id: str, run_id: str) -> list[RunEventRecord]:
    records: list[RunEventRecord] = []
    while True:
        after = records[-1].offset if records else 0
        page = await store.list_run_events(user_id, run_id, after=after, limit=PAGE)
        records += page
        if len(page) < PAGE:
            return records


async def known_events(
    store: Store,
    stream: UserStream,
    epoch: str,
    user_id: str,
    run: RunRecord,
    window: int,
) -> KnownEvents:
    """The run's events from the store and, after the last stored one, from the stream's
    history in ``epoch`` (the current one); ``window`` is how many of the newest events the
    stream always holds, where a run with nothing stored yet is looked for."""
    stored = await _stored(store, user_id, run.run_id)
    events = [SourcedEvent(r.epoch, decode_event(r.frame)) for r in stored]
    complete = [r.seq for r in stored] == list(range(1, len(stored) + 1))
    if events and events[-1].event.type == "agent_completed":
        return KnownEvents(events, complete)
    if stored and stored[-1].epoch != epoch:
        return KnownEvents(events, False)  # the stream lost what came after them
    _, newest = await stream.position()
    after = stored[-1].offset if stored else max(0, newest - window)
    answer = await stream.read_after(epoch, after)
    if not isinstance(answer, Replay):
        return KnownEvents(events, False)
    tail = [SourcedEvent(epoch, e) for e in answer.events if e.run_id == run.run_id]
    if not stored and (not tail or tail[0].event.type != "agent_started"):
        # Its first events are older than the window (a run's task emits agent_started
        # at once, long before a client can ask for it again).
        complete = False
    return KnownEvents(events + tail, complete)


def terminal_of(run: RunRecord, epoch: str) -> SourcedEvent:
    """The run's ``agent_completed`` as its stored record tells it, for a finished run whose
    own event is not known (not stored yet, or never sent by a process that died)."""
    assert run.status != "running"
    completed = AgentCompleted(
        status=run.status,
        duration_ms=0.0,
        text=run.result_text,
        error=run.error,
    )
    ts = utc_timestamp(run.finished_at)
    return SourcedEvent(epoch, Event(0, run.run_id, run.thread_id, run.agent, ts, completed))
