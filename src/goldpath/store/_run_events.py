"""The statements of a run's stored events: a batch appended, a run's page, a stream's span.

A run's events are stored as the frames that were sent, in batches (the server decides
when), each with its place in the run (``seq``, from 1) and in the user's stream (``epoch``,
``offset``). Reads go by the run (``seq`` order) or by the stream (``offset`` order within
one epoch, for a resume the stream's own history can no longer answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.engine import Connection

from ._records import RunEventRecord
from ._schema import run_events, runs

__all__ = ["RUN_EVENTS_PAGE", "STREAM_EVENTS", "insert_run_events", "run_event_record"]

_COLUMNS = (run_events.c.seq, run_events.c.epoch, run_events.c.offset, run_events.c.frame)
_INSERT = run_events.insert()

RUN_EVENTS_PAGE = (
    select(*_COLUMNS)
    .where(
        run_events.c.run_id == bindparam("b_run_id"),
        run_events.c.offset > bindparam("b_after"),
    )
    .order_by(run_events.c.seq)
    .limit(bindparam("b_limit"))
)
STREAM_EVENTS = (
    select(*_COLUMNS)
    .join(runs, runs.c.run_id == run_events.c.run_id)
    .where(
        runs.c.owner_id == bindparam("b_owner_id"),
        run_events.c.epoch == bindparam("b_epoch"),
        run_events.c.offset > bindparam("b_after"),
    )
    .order_by(run_events.c.offset)
    .limit(bindparam("b_limit"))
)


def insert_run_events(conn: Connection, run_id: str, events: Sequence[RunEventRecord]) -> None:
    """One ``executemany`` for the whole batch; nothing for an empty one."""
    if events:
        conn.execute(
            _INSERT,
            [
                {
                    "run_id": run_id,
                    "seq": event.seq,
                    "epoch": event.epoch,
                    "offset": event.offset,
                    "frame": event.frame,
                }
                for event in events
            ],
        )


def run_event_record(row: Row[Any, Any, Any, Any]) -> RunEventRecord:
    return RunEventRecord(row.seq, row.epoch, row.offset, row.frame)
