"""The batching seam: each run's events, as sent to the user's stream, kept for the store.

The factory writes every run's events through `RecordedStreams`, which appends each to
the user's stream and hands the sent `Event` (its frame encoded once, its epoch and
offset) to the `EventRecorder`. The recorder keeps a run's events in memory and stores
them in few writes:

- while the run goes on, a batch every ``batch_events`` events or when its oldest event
  is ``batch_seconds`` old (checked as events arrive);
- when the run ends, the rest with the run's final status and answer, in the one
  transaction `RunService` already makes (`take`), so a finished run's steps are stored
  before ``agent_completed`` is sent;
- ``agent_completed`` itself just after it is sent: it is the only event whose offset is
  not known before the answer must be stored;
- ``approval_requested`` (sent after the run's pause is stored, for the same reason) at
  once, not group-committed: the run may wait on it for hours, and a node lost within the
  write delay would lose the only stored copy of what the run waits for.

Batches during runs and ``agent_completed`` rows are group-committed: queued and written
``write_delay`` seconds later, all of them in one transaction, so under load the extra
write is shared by every run that ended meanwhile. `settle` writes a run's recorded events
at once, for a reader in this process (``GET /runs/{id}/events``) that wants them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from goldpath.events import Event, EventData, EventSink
from goldpath.store import RunEventBatch, RunEventRecord, Store
from goldpath.stream import StreamHub, UserStream

__all__ = ["EventRecorder", "RecordedStreams"]

logger = logging.getLogger("goldpath.server.recorder")

_LAST_EVENTS = frozenset({"agent_completed", "approval_requested"})
"""The events a run sends after its status was stored: each is the run's last here."""

BATCH_EVENTS = 256
BATCH_SECONDS = 2.0
WRITE_DELAY = 1.0


@dataclass(slots=True)
class _Recording:
    """A run's events not handed to a write yet; ``queued``: its batches handed to one;
    ``ending`` once its status is stored."""

    user_id: str
    seq: int = 0
    events: list[RunEventRecord] = field(default_factory=list)
    since: float = 0.0
    queued: int = 0
    ending: bool = False


class EventRecorder:
    """Keeps the events of the runs in flight here until they are stored."""

    __slots__ = (
        "_batch_events",
        "_batch_seconds",
        "_lock",
        "_pending",
        "_runs",
        "_store",
        "_write_delay",
        "_writer",
        "_writing",
    )

    def __init__(
        self,
        store: Store,
        *,
        batch_events: int = BATCH_EVENTS,
        batch_seconds: float = BATCH_SECONDS,
        write_delay: float = WRITE_DELAY,
    ) -> None:
        self._store = store
        self._batch_events = batch_events
        self._batch_seconds = batch_seconds
        self._write_delay = write_delay
        self._runs: dict[str, _Recording] = {}
        self._pending: list[RunEventBatch] = []
        self._writer: asyncio.Task[None] | None = None  # waiting out the write delay
        self._lock = asyncio.Lock()  # one write at a time, so a run's batches land in order
        self._writing: frozenset[str] = frozenset()  # the runs of the write under way

    def start(self, user_id: str, run_id: str, *, seq: int = 0) -> None:
        """Record the events of ``run_id`` (stored already, so its events can be); a run
        continued after a pause gives the ``seq`` of its last stored event."""
        self._runs[run_id] = _Recording(user_id, seq)

    def record(self, event: Event) -> None:
        """Keep one sent event of a recorded run; never suspends."""
        run = self._runs.get(event.run_id)
        if run is None:
            return  # not a run of this server's (a legacy engine's, say)
        run.seq += 1
        stored = RunEventRecord(run.seq, event.epoch, event.offset, event.json)
        if run.ending:  # agent_completed (or approval_requested), sent after the status
            if event.type in _LAST_EVENTS:
                del self._runs[event.run_id]
            batch = RunEventBatch(run.user_id, event.run_id, [stored])
            self._queue(batch, at_once=event.type == "approval_requested")
            return
        now = time.monotonic()
        if not run.events:
            run.since = now
        run.events.append(stored)
        if len(run.events) >= self._batch_events or now - run.since >= self._batch_seconds:
            self._queue(RunEventBatch(run.user_id, event.run_id, run.events))
            run.events = []
            run.queued += 1

    async def take(self, run_id: str) -> list[RunEventRecord]:
        """The run's events not stored yet, to store with its final status; the events
        after this (``agent_completed``) are stored on their own."""
        run = self._runs.get(run_id)
        if run is None:
            return []
        run.ending = True
        queued: list[RunEventBatch] = []
        if run.queued:  # a long run: batches of it may still wait for the writer
            queued = [batch for batch in self._pending if batch.run_id == run_id]
            self._pending = [batch for batch in self._pending if batch.run_id != run_id]
        if run_id in self._writing:  # an earlier batch is being written: it lands first
            async with self._lock:
                pass
        taken = [event for batch in queued for event in batch.events]
        taken += run.events
        run.events = []
        return taken

    async def pausing(self, run_id: str) -> tuple[list[RunEventRecord], int]:
        """As `take`, for a run about to wait for approval: its events not stored yet, and
        the seq of the first event it stores once continued (``approval_requested``, sent
        after the pause is stored, takes the one before)."""
        events = await self.take(run_id)
        run = self._runs.get(run_id)
        return events, (run.seq if run is not None else 0) + 2

    def end(self, run_id: str) -> None:
        """The run's task is over: queue whatever it left (a run that never finished)."""
        run = self._runs.pop(run_id, None)
        if run is not None and run.events:
            self._queue(RunEventBatch(run.user_id, run_id, run.events))

    async def settle(self, run_id: str) -> None:
        """Store every event of ``run_id`` recorded here so far, then return: a reader in
        this process then finds them all (a run in flight: up to its newest event)."""
        run = self._runs.get(run_id)
        if run is not None and run.events and not run.ending:
            self._queue(RunEventBatch(run.user_id, run_id, run.events))
            run.events = []
            run.queued += 1
        if run_id in self._writing or any(batch.run_id == run_id for batch in self._pending):
            await self._write()

    async def close(self) -> None:
        """Write everything queued; call after the runs have ended."""
        for run_id in tuple(self._runs):
            self.end(run_id)
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        await self._write()

    # writing

    def _queue(self, batch: RunEventBatch, *, at_once: bool = False) -> None:
        """Queue ``batch`` for the next write, ``write_delay`` from now or ``at_once``."""
        self._pending.append(batch)
        if at_once and self._writer is not None:
            self._writer.cancel()  # still waiting out the delay: it writes nothing
            self._writer = None
        if self._writer is None:
            delay = 0.0 if at_once else self._write_delay
            self._writer = asyncio.create_task(
                self._write_soon(delay), name="goldpath event writer"
            )

    async def _write_soon(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._writer = None
        await self._write()

    async def _write(self) -> None:
        """Write every batch queued when the previous write ends, in one transaction."""
        async with self._lock:
            batches, self._pending = self._pending, []
            if not batches:
                return
            self._writing = frozenset(batch.run_id for batch in batches)
            try:
                await self._store_all(batches)
            finally:
                self._writing = frozenset()

    async def _store_all(self, batches: list[RunEventBatch]) -> None:
        try:
            await self._store.append_run_event_batches(batches)
            return
        except Exception as exc:
            if len(batches) == 1:
                _log_lost(batches[0], exc)
                return
        # One bad batch (a run deleted meanwhile, say) must not cost the others theirs.
        for batch in batches:
            try:
                await self._store.append_run_events(batch.owner_id, batch.run_id, batch.events)
            except Exception as exc:
                _log_lost(batch, exc)


def _log_lost(batch: RunEventBatch, exc: Exception) -> None:
    logger.error(
        "could not store %d events of the run: %s",
        len(batch.events),
        exc,
        extra={"user_id": batch.owner_id, "run_id": batch.run_id},
    )


class RecordedStreams:
    """The streams the factory writes to: each user's stream, every event recorded."""

    __slots__ = ("_hub", "_recorder")

    def __init__(self, hub: StreamHub, recorder: EventRecorder) -> None:
        self._hub = hub
        self._recorder = recorder

    def for_user(self, user_id: str) -> EventSink:
        return _RecordingSink(self._hub.for_user(user_id), self._recorder)


class _RecordingSink:
    __slots__ = ("_recorder", "_stream")

    def __init__(self, stream: UserStream, recorder: EventRecorder) -> None:
        self._stream = stream
        self._recorder = recorder

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        event = await self._stream.append(run_id, thread_id, agent, ts, data)
        self._recorder.record(event)
        return event
