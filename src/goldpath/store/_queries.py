"""The statements and row helpers the store's transactions share.

The chat path's statements are built once (SQLAlchemy caches their compiled form);
parameters named ``b_*`` are the WHERE clause's. Helpers raise `NotFoundError` for someone
else's row exactly as for a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from goldpath.errors import NotFoundError

from ._records import MessageRecord, RunRecord, ThreadRecord, UserRecord
from ._schema import messages, runs, threads

__all__ = [
    "FINISH_RUN",
    "INSERT_MESSAGE",
    "INSERT_RUN",
    "INSERT_THREAD",
    "OWNED_RUN",
    "OWNED_THREAD",
    "RECENT_MESSAGES",
    "TOUCH_THREAD",
    "insert_message",
    "insert_thread",
    "message_record",
    "owned_run",
    "owned_thread",
    "run_record",
    "run_values",
    "thread_record",
    "touch_thread",
    "user_record",
]

OWNED_THREAD = select(threads).where(
    threads.c.thread_id == bindparam("b_thread_id"), threads.c.owner_id == bindparam("b_owner_id")
)
OWNED_RUN = select(runs).where(
    runs.c.run_id == bindparam("b_run_id"), runs.c.owner_id == bindparam("b_owner_id")
)
RECENT_MESSAGES = (
    select(messages)
    .where(messages.c.thread_id == bindparam("b_thread_id"))
    .order_by(messages.c.created_at.desc(), messages.c.seq.desc())
    .limit(bindparam("limit"))
)
INSERT_THREAD = threads.insert()
INSERT_MESSAGE = messages.insert()
INSERT_RUN = runs.insert()
TOUCH_THREAD = update(threads).where(threads.c.thread_id == bindparam("b_thread_id"))
FINISH_RUN = (
    update(runs)
    .where(runs.c.run_id == bindparam("b_run_id"), runs.c.owner_id == bindparam("b_owner_id"))
    .where(runs.c.status == "running")
    .returning(*runs.c)
)


def owned_thread(conn: Connection, owner_id: str, thread_id: str) -> Row[Any]:
    row = conn.execute(OWNED_THREAD, {"b_thread_id": thread_id, "b_owner_id": owner_id}).first()
    if row is None:
        raise NotFoundError(f"thread {thread_id!r} not found; check the thread id")
    return row


def owned_run(conn: Connection, owner_id: str, run_id: str) -> Row[Any]:
    row = conn.execute(OWNED_RUN, {"b_run_id": run_id, "b_owner_id": owner_id}).first()
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found; check the run id")
    return row


def insert_thread(conn: Connection, record: ThreadRecord) -> None:
    values = {
        "thread_id": record.thread_id,
        "owner_id": record.owner_id,
        "title": record.title,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    try:
        conn.execute(INSERT_THREAD, values)
    except IntegrityError as exc:
        raise NotFoundError(
            f"user {record.owner_id!r} not found; create the user before their threads"
        ) from exc


def insert_message(conn: Connection, record: MessageRecord) -> None:
    conn.execute(
        INSERT_MESSAGE,
        {
            "message_id": record.message_id,
            "thread_id": record.thread_id,
            "role": record.role,
            "text": record.text,
            "run_id": record.run_id,
            "created_at": record.created_at,
        },
    )


def touch_thread(conn: Connection, thread_id: str, now: datetime, title: str | None = None) -> None:
    values: dict[str, Any] = {"b_thread_id": thread_id, "updated_at": now}
    if title is not None:
        values["title"] = title
    conn.execute(TOUCH_THREAD, values)


def run_values(run: RunRecord, lease_until: datetime | None = None) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "owner_id": run.owner_id,
        "agent": run.agent,
        "status": run.status,
        "created_at": run.created_at,
        "node_id": run.node_id,
        "lease_until": lease_until,
    }


def user_record(row: Row[Any]) -> UserRecord:
    return UserRecord(
        row.user_id, row.username, row.password_hash, row.created_at, row.token_version
    )


def thread_record(row: Row[Any]) -> ThreadRecord:
    return ThreadRecord(row.thread_id, row.owner_id, row.title, row.created_at, row.updated_at)


def message_record(row: Row[Any]) -> MessageRecord:
    return MessageRecord(
        row.message_id, row.thread_id, row.role, row.text, row.run_id, row.created_at
    )


def run_record(row: Row[Any]) -> RunRecord:
    return RunRecord(
        row.run_id,
        row.thread_id,
        row.owner_id,
        row.agent,
        row.status,
        row.created_at,
        row.finished_at,
        row.result_text,
        row.error,
        row.input_tokens,
        row.output_tokens,
        row.node_id,
    )
