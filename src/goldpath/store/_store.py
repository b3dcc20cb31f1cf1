"""The store: users, threads, messages and runs, every query scoped by owner.

Someone else's thread or run is reported exactly like a missing one, so an id leaks
nothing. Each method is one short transaction; on SQLite, writes take the write lock
at ``BEGIN`` so that concurrent writers queue instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from goldpath.context import new_id
from goldpath.errors import ConflictError, NotFoundError, StoreError

from ._engine import Backend, create_engine, normalise_url, writer
from ._migrate import upgrade_to_head
from ._records import (
    FINAL_STATUSES,
    ROLES,
    MessageRecord,
    Role,
    RunRecord,
    RunStatus,
    ThreadRecord,
    UserRecord,
)
from ._schema import ID_LENGTH, messages, runs, threads, users

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def title_from_message(message: str) -> str | None:
    """A thread title from a first message: whitespace collapsed, at most 60 characters."""
    words = " ".join(message.split())
    if not words:
        return None
    if len(words) <= TITLE_LENGTH:
        return words
    return words[: TITLE_LENGTH - 1].rstrip() + "…"


class Store:
    """Owner-scoped persistence on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    backend: Backend

    def __init__(self, engine: AsyncEngine, backend: Backend, url: str, clock: Clock) -> None:
        """Use `Store.open`, which also migrates the schema."""
        self._engine = engine
        self._writer = writer(engine)
        # SQLite has one write lock per file, and a writer that finds it taken sleeps in
        # steps of up to 100 ms. Queueing this process's writers here wakes the next one
        # the moment the lock is free (measured in bench/server_load.py).
        self._sqlite_writes = asyncio.Lock() if backend == "sqlite" else None
        self.backend = backend
        self._url = url
        self._now = clock

    @classmethod
    async def open(cls, url: str, *, clock: Clock = _utc_now) -> Store:
        """Connect and upgrade the schema to head; `clock` lets tests pin timestamps."""
        parsed, backend = normalise_url(url)
        engine = create_engine(parsed, backend)
        store = cls(engine, backend, parsed.render_as_string(hide_password=True), clock)
        try:
            async with store._transaction("upgrade the schema", write=True) as conn:
                await conn.run_sync(upgrade_to_head)
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises `StoreError` saying why the database is unusable."""
        async with self._transaction("answer a ping", write=False) as conn:
            await conn.execute(text("SELECT 1"))

    # users

    async def create_user(self, username: str, password_hash: str) -> UserRecord:
        """Usernames are unique regardless of case: 'Ann' and 'ann' are one account."""
        record = UserRecord(new_id("usr"), username, password_hash, self._now())
        try:
            async with self._transaction("create a user", write=True) as conn:
                await conn.execute(
                    users.insert().values(
                        user_id=record.user_id,
                        username=username,
                        username_key=username.casefold(),
                        password_hash=password_hash,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"username {username!r} is taken; choose another username") from exc
        return record

    async def get_user_by_username(self, username: str) -> UserRecord | None:
        """Look a user up ignoring case, as at registration."""
        query = select(users).where(users.c.username_key == username.casefold())
        async with self._transaction("find a user", write=False) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _user(row)

    async def get_user(self, user_id: str) -> UserRecord | None:
        async with self._transaction("find a user", write=False) as conn:
            row = (await conn.execute(select(users).where(users.c.user_id == user_id))).first()
        return None if row is None else _user(row)

    # threads and messages

    async def create_thread(self, owner_id: str, title: str = DEFAULT_TITLE) -> ThreadRecord:
        now = self._now()
        record = ThreadRecord(new_id("thr"), owner_id, title, now, now)
        try:
            async with self._transaction("create a thread", write=True) as conn:
                await conn.execute(
                    threads.insert().values(
                        thread_id=record.thread_id,
                        owner_id=owner_id,
                        title=title,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as exc:
            raise NotFoundError(
                f"user {owner_id!r} not found; create the user before their threads"
            ) from exc
        return record

    async def list_threads(self, owner_id: str, limit: int = 100) -> list[ThreadRecord]:
        """Newest activity first; equal ``updated_at`` by ``thread_id``, descending."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query = (
            select(threads)
            .where(threads.c.owner_id == owner_id)
            .order_by(threads.c.updated_at.desc(), threads.c.thread_id.desc())
            .limit(limit)
        )
        async with self._transaction("list threads", write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [_thread(row) for row in rows]

    async def get_thread(self, owner_id: str, thread_id: str) -> ThreadRecord:
        async with self._transaction("read a thread", write=False) as conn:
            return _thread(await _owned_thread(conn, owner_id, thread_id))

    async def list_messages(self, owner_id: str, thread_id: str) -> list[MessageRecord]:
        """Oldest first; messages saved in the same microsecond keep their insert order."""
        query = (
            select(messages)
            .where(messages.c.thread_id == thread_id)
            .order_by(messages.c.created_at, messages.c.seq)
        )
        async with self._transaction("list messages", write=False) as conn:
            await _owned_thread(conn, owner_id, thread_id)
            rows = (await conn.execute(query)).all()
        return [_message(row) for row in rows]

    async def add_message(
        self, owner_id: str, thread_id: str, role: str, text: str, run_id: str | None = None
    ) -> MessageRecord:
        """Save one message and bump the thread's ``updated_at``."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {sorted(ROLES)}")
        now = self._now()
        record = MessageRecord(new_id("msg"), thread_id, cast(Role, role), text, run_id, now)
        async with self._transaction("save a message", write=True) as conn:
            await _owned_thread(conn, owner_id, thread_id)
            await _insert_message(conn, record)
            await _touch_thread(conn, thread_id, now)
        return record

    # runs

    async def start_run(
        self, owner_id: str, thread_id: str, run_id: str, agent: str, message: str
    ) -> tuple[RunRecord, MessageRecord]:
        """Save the run (``running``) and the user's message together.

        A thread that still has the default title takes its title from this message.
        """
        if not run_id or len(run_id) > ID_LENGTH:
            raise ValueError(f"run_id {run_id!r} must be 1 to {ID_LENGTH} characters")
        now = self._now()
        run = RunRecord(run_id, thread_id, owner_id, agent, "running", now, None, None, None)
        user_message = MessageRecord(new_id("msg"), thread_id, "user", message, run_id, now)
        try:
            async with self._transaction("start a run", write=True) as conn:
                thread = await _owned_thread(conn, owner_id, thread_id)
                await conn.execute(
                    runs.insert().values(
                        run_id=run_id,
                        thread_id=thread_id,
                        owner_id=owner_id,
                        agent=agent,
                        status="running",
                        created_at=now,
                    )
                )
                await _insert_message(conn, user_message)
                title = title_from_message(message) if thread.title == DEFAULT_TITLE else None
                await _touch_thread(conn, thread_id, now, title)
        except IntegrityError as exc:
            raise ConflictError(
                f"run {run_id!r} exists already; start every run with a new id"
            ) from exc
        return run, user_message

    async def get_run(self, owner_id: str, run_id: str) -> RunRecord:
        async with self._transaction("read a run", write=False) as conn:
            return _run(await _owned_run(conn, owner_id, run_id))

    async def finish_run(
        self,
        owner_id: str,
        run_id: str,
        status: RunStatus,
        text: str | None,
        error: str | None,
    ) -> RunRecord:
        """Give a running run its final status, and save ``text`` as the assistant's message.

        Only a ``running`` run can finish; the check and the change are one statement, so
        two finishers cannot both win.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"status {status!r} is not a final status: {sorted(FINAL_STATUSES)}")
        now = self._now()
        change = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.owner_id == owner_id)
            .where(runs.c.status == "running")
            .values(status=status, finished_at=now, result_text=text, error=error)
            .returning(*runs.c)
        )
        async with self._transaction("finish a run", write=True) as conn:
            row = (await conn.execute(change)).first()
            if row is None:
                finished = await _owned_run(conn, owner_id, run_id)
                raise ConflictError(
                    f"run {run_id!r} already finished with status {finished.status!r}; "
                    "a run finishes only once"
                )
            record = _run(row)
            if text is not None:
                answer = MessageRecord(
                    new_id("msg"), record.thread_id, "assistant", text, run_id, now
                )
                await _insert_message(conn, answer)
                await _touch_thread(conn, record.thread_id, now)
        return record

    async def mark_unfinished_runs(
        self,
        status: RunStatus = "error",
        error: str = "server restarted while the run was in flight",
    ) -> int:
        """Finish every run a crashed process left ``running``; call once at start-up."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"status {status!r} is not a final status: {sorted(FINAL_STATUSES)}")
        change = (
            update(runs)
            .where(runs.c.status == "running")
            .values(status=status, error=error, finished_at=self._now())
        )
        async with self._transaction("finish interrupted runs", write=True) as conn:
            result = await conn.execute(change)
        return result.rowcount

    @asynccontextmanager
    async def _transaction(self, action: str, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """One transaction; database failures become `StoreError` naming the action."""
        try:
            if write and self._sqlite_writes is not None:
                async with self._sqlite_writes, self._writer.begin() as conn:
                    yield conn
            else:
                async with (self._writer if write else self._engine).begin() as conn:
                    yield conn
        except IntegrityError:  # the caller turns it into ConflictError or NotFoundError
            raise
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(
                f"the database at {self._url} failed to {action}: {reason}; check that it "
                "is reachable and GOLDPATH_DATABASE_URL is right"
            ) from exc


async def _owned_thread(conn: AsyncConnection, owner_id: str, thread_id: str) -> Row[Any]:
    query = select(threads).where(threads.c.thread_id == thread_id, threads.c.owner_id == owner_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"thread {thread_id!r} not found; check the thread id")
    return row


async def _owned_run(conn: AsyncConnection, owner_id: str, run_id: str) -> Row[Any]:
    query = select(runs).where(runs.c.run_id == run_id, runs.c.owner_id == owner_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found; check the run id")
    return row


async def _insert_message(conn: AsyncConnection, record: MessageRecord) -> None:
    await conn.execute(
        messages.insert().values(
            message_id=record.message_id,
            thread_id=record.thread_id,
            role=record.role,
            text=record.text,
            run_id=record.run_id,
            created_at=record.created_at,
        )
    )


async def _touch_thread(
    conn: AsyncConnection, thread_id: str, now: datetime, title: str | None = None
) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if title is not None:
        values["title"] = title
    await conn.execute(update(threads).where(threads.c.thread_id == thread_id).values(values))


def _user(row: Row[Any]) -> UserRecord:
    return UserRecord(row.user_id, row.username, row.password_hash, row.created_at)


def _thread(row: Row[Any]) -> ThreadRecord:
    return ThreadRecord(row.thread_id, row.owner_id, row.title, row.created_at, row.updated_at)


def _message(row: Row[Any]) -> MessageRecord:
    return MessageRecord(
        row.message_id, row.thread_id, row.role, row.text, row.run_id, row.created_at
    )


def _run(row: Row[Any]) -> RunRecord:
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
    )
