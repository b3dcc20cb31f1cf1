"""How a run's events are kept: one row per batch, and the statements that read them back.

The server stores a run's events in a few batches (docs/server.md says when). A batch of
one stream epoch is one row: its first ``seq``, the epoch, its first and last offset, the
offsets as text (``3,4,7``) and the frames joined by newlines (a compact JSON frame has no
raw newline). Writing a row per event cost ~30 us of CPU per event; a row per batch costs
about one event's worth. Reads unpack rows into `RunEventRecord` values, one per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from goldpath.errors import ConflictError, NotFoundError

from ._queries import owned_run
from ._records import RunEventBatch, RunEventRecord
from ._schema import run_events, runs

__all__ = ["RunEventMethods", "insert_run_events"]

T = TypeVar("T")

_INSERT = run_events.insert()
_ROW = (
    run_events.c.seq,
    run_events.c.epoch,
    run_events.c.first_offset,
    run_events.c.offsets,
    run_events.c.frames,
)

_RUN_EVENTS_PAGE = (
    select(*_ROW)
    .where(
        run_events.c.run_id == bindparam("b_run_id"),
        run_events.c.last_offset > bindparam("b_after"),
    )
    .order_by(run_events.c.seq)
    .limit(bindparam("b_rows"))
)
_STREAM_EVENTS = (
    select(*_ROW)
    .join(runs, runs.c.run_id == run_events.c.run_id)
    .where(
        runs.c.owner_id == bindparam("b_owner_id"),
        run_events.c.epoch == bindparam("b_epoch"),
        run_events.c.last_offset > bindparam("b_after"),
    )
    .order_by(run_events.c.first_offset)
    .limit(bindparam("b_rows"))
)
_LAST_ROW = (
    select(run_events.c.seq, run_events.c.offsets)
    .where(run_events.c.run_id == bindparam("b_run_id"))
    .order_by(run_events.c.seq.desc())
    .limit(1)
)
_OWNERS = select(runs.c.run_id, runs.c.owner_id).where(
    runs.c.run_id.in_(bindparam("b_run_ids", expanding=True))
)


def _check_owners(conn: Connection, batches: Sequence[RunEventBatch]) -> None:
    """`NotFoundError` unless every batch's run exists and is its owner's."""
    owners = dict(conn.execute(_OWNERS, {"b_run_ids": list({b.run_id for b in batches})}).all())
    for batch in batches:
        if owners.get(batch.run_id) != batch.owner_id:
            raise NotFoundError(f"run {batch.run_id!r} not found; check the run id")


def insert_run_events(conn: Connection, batches: Sequence[RunEventBatch]) -> None:
    """One row for each stretch of a batch in one epoch, all in one ``executemany``.

    `ConflictError` when a batch's ``seq`` were stored before.
    """
    rows = [row for batch in batches for row in _rows(batch.run_id, batch.events)]
    if not rows:
        return
    try:
        conn.execute(_INSERT, rows)
    except IntegrityError as exc:
        names = ", ".join(sorted({repr(batch.run_id) for batch in batches}))
        raise ConflictError(
            f"events of run {names} were stored before; number each event of a run once"
        ) from exc


def _rows(run_id: str, events: Sequence[RunEventRecord]) -> Iterator[dict[str, Any]]:
    start = 0
    for end in range(1, len(events) + 1):
        if end < len(events) and events[end].epoch == events[start].epoch:
            continue
        part = events[start:end]
        first, last = part[0], part[-1]
        if last.seq - first.seq != len(part) - 1:
            raise ValueError(
                f"run {run_id!r}: seq {first.seq} to {last.seq} for {len(part)} events; "
                "a batch's events must be numbered one after another"
            )
        frames = "\n".join([event.frame for event in part])
        if frames.count("\n") != len(part) - 1:
            raise ValueError(f"run {run_id!r}: a frame with a raw newline is not compact JSON")
        yield {
            "run_id": run_id,
            "seq": first.seq,
            "epoch": first.epoch,
            "first_offset": first.offset,
            "last_offset": last.offset,
            "offsets": ",".join([str(event.offset) for event in part]),
            "frames": frames,
        }
        start = end


def _unpack(row: Row[Any, Any, Any, Any, Any]) -> list[RunEventRecord]:
    """The events of one stored row."""
    offsets = row.offsets.split(",")
    frames = row.frames.split("\n")
    return [
        RunEventRecord(row.seq + index, row.epoch, int(offset), frame)
        for index, (offset, frame) in enumerate(zip(offsets, frames, strict=True))
    ]


class RunEventMethods:
    """The store's methods for run events; `goldpath.store.Store` has them."""

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def append_run_events(
        self, owner_id: str, run_id: str, events: Sequence[RunEventRecord]
    ) -> None:
        """Store a batch of the owner's run's events (`NotFoundError` for someone else's run)."""
        await self.append_run_event_batches([RunEventBatch(owner_id, run_id, events)])

    async def append_run_event_batches(self, batches: Sequence[RunEventBatch]) -> None:
        """Store batches of several runs in one transaction, all or none.

        Each batch's ``seq`` continue its run's stored ones, one after another; a ``seq``
        stored before is a `ConflictError`; a run that is not its batch owner's, `NotFoundError`.
        """

        def append(conn: Connection) -> None:
            _check_owners(conn, batches)
            insert_run_events(conn, batches)

        if batches:
            await self._run("store runs' events", append, write=True)

    async def append_last_run_event(
        self, owner_id: str, run_id: str, epoch: str, offset: int, frame: str
    ) -> None:
        """Store one event after the run's stored ones: the ``agent_completed`` a surviving
        node writes for a run whose own node died, which cannot know the run's last seq."""

        def append(conn: Connection) -> None:
            owned_run(conn, owner_id, run_id)
            last = conn.execute(_LAST_ROW, {"b_run_id": run_id}).first()
            seq = 1 if last is None else last.seq + last.offsets.count(",") + 1
            event = RunEventRecord(seq, epoch, offset, frame)
            insert_run_events(conn, [RunEventBatch(owner_id, run_id, [event])])

        await self._run("store a run's last event", append, write=True)

    async def list_run_events(
        self, owner_id: str, run_id: str, *, after: int = 0, limit: int = 1000
    ) -> list[RunEventRecord]:
        """The run's stored events whose offset is above ``after``, in the order sent."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        page = {"b_run_id": run_id, "b_after": after, "b_rows": limit}

        def list_(conn: Connection) -> list[RunEventRecord]:
            owned_run(conn, owner_id, run_id)
            rows = conn.execute(_RUN_EVENTS_PAGE, page)
            events = [event for row in rows for event in _unpack(row) if event.offset > after]
            return events[:limit]

        return await self._run("list a run's events", list_, write=False)

    async def list_stream_events(
        self, owner_id: str, epoch: str, *, after: int, limit: int = 1000
    ) -> list[RunEventRecord]:
        """The owner's stored events of stream ``epoch`` with an offset above ``after``,
        by offset: what a resume needs when the stream's history no longer holds them.
        Events not stored yet (a run in flight) are missing: check the offsets for gaps."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        span = {"b_owner_id": owner_id, "b_epoch": epoch, "b_after": after}

        def list_(conn: Connection) -> list[RunEventRecord]:
            # Rows come by first offset, and runs interleave, so a row read may hold
            # offsets above those of a row not read: only offsets up to the last row's
            # first one are known to be complete. Rows that began at or before ``after``
            # use up the row budget without giving events, hence the retry.
            rows_wanted = limit + 16
            while True:
                rows = list(conn.execute(_STREAM_EVENTS, {**span, "b_rows": rows_wanted}))
                bound = rows[-1].first_offset if len(rows) == rows_wanted else None
                events = [
                    event
                    for row in rows
                    for event in _unpack(row)
                    if event.offset > after and (bound is None or event.offset <= bound)
                ]
                if events or bound is None:
                    events.sort(key=_by_offset)
                    return events[:limit]
                rows_wanted *= 4

        return await self._run("list a stream's events", list_, write=False)


def _by_offset(event: RunEventRecord) -> int:
    return event.offset
