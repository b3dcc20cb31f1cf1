"""The store: users, threads, messages and runs, every query scoped by owner.

Someone else's thread or run is reported exactly like a missing one, so an id leaks
nothing. Each method is one short transaction, written as a plain function of a
`Connection` and run by `_database` (on SQLite, whole on a store thread); writes take
SQLite's write lock at ``BEGIN`` so that concurrent writers queue instead of failing.
The statements of the chat path are built once; SQLAlchemy caches their compiled form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Row, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from goldpath.context import new_id
from goldpath.errors import ConflictError, NotFoundError, RunFinishedError, StoreError

from ._accounts import AccountMethods
from ._agui_runs import AguiRunMethods
from ._database import SQLITE_READERS, AsyncDatabase, Database, ThreadedSQLite
from ._engine import Backend, create_postgresql_engine, create_sqlite_engine, normalise_url
from ._leases import RunLeaseMethods
from ._migrate import require_current_schema, upgrade_to_head
from ._pauses import RunPauseMethods
from ._queries import (
    FINISH_RUN,
    INSERT_RUN,
    RECENT_MESSAGES,
    insert_message,
    insert_thread,
    message_record,
    owned_run,
    owned_thread,
    run_record,
    run_values,
    thread_record,
    touch_thread,
    user_record,
)
from ._records import (
    FINAL_STATUSES,
    ROLES,
    MessageRecord,
    Role,
    RunEventBatch,
    RunEventRecord,
    RunLease,
    RunRecord,
    RunState,
    ThreadRecord,
    UserRecord,
)
from ._run_events import RunEventMethods, insert_run_events
from ._schema import ID_LENGTH, agui_threads, messages, metadata, threads, users
from ._threads import ThreadEditMethods

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60

Clock = Callable[[], datetime]
T = TypeVar("T")


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


class Store(
    AccountMethods,
    ThreadEditMethods,
    RunEventMethods,
    RunLeaseMethods,
    RunPauseMethods,
    AguiRunMethods,
):
    """Owner-scoped persistence on SQLite (sqlite3, in threads) or PostgreSQL (asyncpg)."""

    backend: Backend

    def __init__(self, database: Database, backend: Backend, url: str, clock: Clock) -> None:
        """Use `Store.open`, which also migrates the schema."""
        self._database = database
        self.backend = backend
        self._url = url
        self._now = clock

    @classmethod
    async def open(cls, url: str, *, clock: Clock = _utc_now) -> Store:
        """Connect and upgrade the schema to head; `clock` lets tests pin timestamps."""
        parsed, backend = normalise_url(url)
        database: Database
        if backend == "sqlite":
            database = ThreadedSQLite(create_sqlite_engine(parsed, SQLITE_READERS + 1))
        else:
            database = AsyncDatabase(create_postgresql_engine(parsed))
        store = cls(database, backend, parsed.render_as_string(hide_password=True), clock)
        try:
            await store._run("upgrade the schema", upgrade_to_head, write=True)
        except BaseException:
            await database.close()
            raise
        return store

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._database.close()

    async def ping(self) -> None:
        """Read no row of every table, with all of its columns: the database answers and
        its schema is there. Raises `StoreError` saying why the database is unusable."""

        def ping(conn: Connection) -> None:
            for table in metadata.sorted_tables:
                conn.execute(select(table).limit(0))

        await self._run("answer a ping", ping, write=False)

    async def check_schema(self) -> None:
        """Raise `SchemaVersionError` unless the schema is at this code's revision, and
        `StoreError` when the database cannot be read; ``/ready`` calls this."""
        await self._run("read the schema revision", require_current_schema, write=False)

    # users

    async def create_user(self, username: str, password_hash: str) -> UserRecord:
        """Usernames are unique regardless of case: 'Ann' and 'ann' are one account."""
        record = UserRecord(new_id("usr"), username, password_hash, self._now())

        def create(conn: Connection) -> None:
            conn.execute(
                users.insert(),
                {
                    "user_id": record.user_id,
                    "username": username,
                    "username_key": username.casefold(),
                    "password_hash": password_hash,
                    "created_at": record.created_at,
                },
            )

        try:
            await self._run("create a user", create, write=True)
        except IntegrityError as exc:
            raise ConflictError(f"username {username!r} is taken; choose another username") from exc
        return record

    async def get_user_by_username(self, username: str) -> UserRecord | None:
        """Look a user up ignoring case, as at registration."""
        query = select(users).where(users.c.username_key == username.casefold())

        def find(conn: Connection) -> Row[Any] | None:
            return conn.execute(query).first()

        row = await self._run("find a user", find, write=False)
        return None if row is None else user_record(row)

    async def get_user(self, user_id: str) -> UserRecord | None:
        query = select(users).where(users.c.user_id == user_id)

        def find(conn: Connection) -> Row[Any] | None:
            return conn.execute(query).first()

        row = await self._run("find a user", find, write=False)
        return None if row is None else user_record(row)

    # threads and messages

    async def create_thread(self, owner_id: str, title: str = DEFAULT_TITLE) -> ThreadRecord:
        now = self._now()
        record = ThreadRecord(new_id("thr"), owner_id, title, now, now)

        def create(conn: Connection) -> None:
            insert_thread(conn, record)

        await self._run("create a thread", create, write=True)
        return record

    async def list_threads(
        self, owner_id: str, limit: int = 100, *, after: tuple[datetime, str] | None = None
    ) -> list[ThreadRecord]:
        """Newest activity first; equal ``updated_at`` by ``thread_id``, descending.
        ``after`` (a thread's ``updated_at`` and ``thread_id``) starts after that thread."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query = select(threads).where(threads.c.owner_id == owner_id)
        if after is not None:
            query = query.where(tuple_(threads.c.updated_at, threads.c.thread_id) < after)
        query = query.order_by(threads.c.updated_at.desc(), threads.c.thread_id.desc()).limit(limit)

        def list_(conn: Connection) -> list[ThreadRecord]:
            return [thread_record(row) for row in conn.execute(query)]

        return await self._run("list threads", list_, write=False)

    async def get_thread(self, owner_id: str, thread_id: str) -> ThreadRecord:
        def read(conn: Connection) -> ThreadRecord:
            return thread_record(owned_thread(conn, owner_id, thread_id))

        return await self._run("read a thread", read, write=False)

    async def open_agui_thread(self, owner_id: str, thread_id: str, agui_thread_id: str) -> None:
        """Make the thread ``thread_id`` for an AG-UI client's own ``agui_thread_id``, unless
        the owner has it already; `NotFoundError` when it is someone else's.

        ``thread_id`` is made from the owner and the client's id by the caller, so one
        client id names one thread per user and never reaches another user's thread.
        """
        now = self._now()
        record = ThreadRecord(thread_id, owner_id, DEFAULT_TITLE, now, now)
        query = select(threads.c.owner_id).where(threads.c.thread_id == thread_id)

        def open_(conn: Connection) -> None:
            found = conn.execute(query).first()
            if found is not None:
                if found.owner_id != owner_id:
                    raise NotFoundError(f"thread {thread_id!r} not found; check the thread id")
                return
            insert_thread(conn, record)
            conn.execute(
                agui_threads.insert(), {"thread_id": thread_id, "agui_thread_id": agui_thread_id}
            )

        try:
            await self._run("open an AG-UI thread", open_, write=True)
        except NotFoundError:
            # Another request made the same thread first (PostgreSQL), or the user is gone.
            await self.get_thread(owner_id, thread_id)

    async def agui_thread_id(self, owner_id: str, thread_id: str) -> str:
        """The AG-UI client's own id of the owner's thread ``thread_id``; `NotFoundError`
        for a missing thread, someone else's, or one not made through AG-UI."""
        query = select(agui_threads.c.agui_thread_id).where(agui_threads.c.thread_id == thread_id)

        def read(conn: Connection) -> str:
            owned_thread(conn, owner_id, thread_id)
            found: str | None = conn.execute(query).scalar()
            if found is None:
                raise NotFoundError(f"thread {thread_id!r} was not made by an AG-UI client")
            return found

        return await self._run("read an AG-UI thread", read, write=False)

    async def list_messages(
        self,
        owner_id: str,
        thread_id: str,
        limit: int | None = None,
        *,
        after: str | None = None,
    ) -> list[MessageRecord]:
        """Oldest first; messages saved in the same microsecond keep their insert order.
        At most ``limit``; ``after`` (a message id of the thread) starts after that message,
        `NotFoundError` when the thread has no such message."""
        query = select(messages).where(messages.c.thread_id == thread_id)
        if limit is not None:
            query = query.limit(limit)
        start = select(messages.c.created_at, messages.c.seq).where(
            messages.c.thread_id == thread_id, messages.c.message_id == after
        )

        def list_(conn: Connection) -> list[MessageRecord]:
            owned_thread(conn, owner_id, thread_id)
            paged = query
            if after is not None:
                mark = conn.execute(start).first()
                if mark is None:
                    raise NotFoundError(f"thread {thread_id!r} has no message {after!r}")
                paged = query.where(tuple_(messages.c.created_at, messages.c.seq) > tuple(mark))
            ordered = paged.order_by(messages.c.created_at, messages.c.seq)
            return [message_record(row) for row in conn.execute(ordered)]

        return await self._run("list messages", list_, write=False)

    async def add_message(
        self, owner_id: str, thread_id: str, role: str, text: str, run_id: str | None = None
    ) -> MessageRecord:
        """Save one message and bump the thread's ``updated_at``."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {sorted(ROLES)}")
        now = self._now()
        record = MessageRecord(new_id("msg"), thread_id, cast(Role, role), text, run_id, now)

        def add(conn: Connection) -> None:
            owned_thread(conn, owner_id, thread_id)
            insert_message(conn, record)
            touch_thread(conn, thread_id, now)

        await self._run("save a message", add, write=True)
        return record

    # runs

    async def start_run(
        self, owner_id: str, thread_id: str, run_id: str, agent: str, message: str
    ) -> tuple[RunRecord, MessageRecord]:
        """Save the run (``running``) and the user's message together.

        A thread that still has the default title takes its title from this message.
        """
        run, user_message, _ = await self.start_chat(owner_id, thread_id, run_id, agent, message)
        return run, user_message

    async def start_chat(
        self,
        owner_id: str,
        thread_id: str,
        run_id: str,
        agent: str,
        message: str,
        *,
        new_thread: bool = False,
        history: int = 0,
        lease: RunLease | None = None,
    ) -> tuple[RunRecord, MessageRecord, list[MessageRecord]]:
        """`start_run` for a chat message, with what comes before it, in the same transaction.

        ``new_thread`` makes the thread ``thread_id`` (an id from ``new_id("thr")``), titled
        from the message; otherwise the thread must be the owner's (`NotFoundError`). Also
        returns the thread's last ``history`` messages before this one, oldest first.
        ``lease`` records the node running it and how long its claim holds unrenewed; a run
        without one is left to the first sweep (`finish_lost_runs`).
        """
        if not run_id or len(run_id) > ID_LENGTH:
            raise ValueError(f"run_id {run_id!r} must be 1 to {ID_LENGTH} characters")
        if history < 0:
            raise ValueError(f"history must be at least 0, not {history}")
        now = self._now()
        title = title_from_message(message) or DEFAULT_TITLE
        thread = ThreadRecord(thread_id, owner_id, title, now, now) if new_thread else None
        node_id = lease.node_id if lease is not None else None
        lease_until = now + timedelta(seconds=lease.seconds) if lease is not None else None
        run = RunRecord(
            run_id, thread_id, owner_id, agent, "running", now, None, None, None, node_id=node_id
        )
        user_message = MessageRecord(new_id("msg"), thread_id, "user", message, run_id, now)

        def start(conn: Connection) -> list[MessageRecord]:
            earlier: list[MessageRecord] = []
            if thread is not None:
                insert_thread(conn, thread)
            else:
                owned = owned_thread(conn, owner_id, thread_id)
                if history:
                    query = {"b_thread_id": thread_id, "limit": history}
                    earlier = [message_record(row) for row in conn.execute(RECENT_MESSAGES, query)]
                    earlier.reverse()
                touch_thread(conn, thread_id, now, title if owned.title == DEFAULT_TITLE else None)
            try:
                conn.execute(INSERT_RUN, run_values(run, lease_until))
            except IntegrityError as exc:
                raise ConflictError(
                    f"run {run_id!r} exists already; start every run with a new id"
                ) from exc
            insert_message(conn, user_message)
            return earlier

        return run, user_message, await self._run("start a run", start, write=True)

    async def get_run(self, owner_id: str, run_id: str) -> RunRecord:
        def read(conn: Connection) -> RunRecord:
            return run_record(owned_run(conn, owner_id, run_id))

        return await self._run("read a run", read, write=False)

    async def finish_run(
        self,
        owner_id: str,
        run_id: str,
        status: RunState,
        text: str | None,
        error: str | None,
        events: Sequence[RunEventRecord] = (),
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> RunRecord:
        """Give a running run its final status, and save ``text`` as the assistant's message.

        ``input_tokens`` and ``output_tokens`` are the run's model usage, when known.

        Only a ``running`` run can finish; the check and the change are one statement, so
        two finishers cannot both win: the loser gets `RunFinishedError`. ``events``, the
        run's events not stored yet, are stored in the same transaction.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"status {status!r} is not a final status: {sorted(FINAL_STATUSES)}")
        now = self._now()
        change = {
            "b_run_id": run_id,
            "b_owner_id": owner_id,
            "status": status,
            "finished_at": now,
            "result_text": text,
            "error": error,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "pending_call_id": None,
            "paused_state": None,
        }

        def finish(conn: Connection) -> RunRecord:
            row = conn.execute(FINISH_RUN, change).first()
            if row is None:
                finished = owned_run(conn, owner_id, run_id)
                raise RunFinishedError(
                    f"run {run_id!r} already finished with status {finished.status!r}; "
                    "a run finishes only once"
                )
            record = run_record(row)
            if text is not None:
                answer = MessageRecord(
                    new_id("msg"), record.thread_id, "assistant", text, run_id, now
                )
                insert_message(conn, answer)
                touch_thread(conn, record.thread_id, now)
            insert_run_events(conn, [RunEventBatch(owner_id, run_id, events)])
            return record

        return await self._run("finish a run", finish, write=True)

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        """``work`` in one transaction; database failures become `StoreError` naming the action."""
        try:
            return await self._database.run(work, write=write)
        except IntegrityError:  # the caller turns it into ConflictError or NotFoundError
            raise
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(
                f"the database at {self._url} failed to {action}: {reason}; check that it "
                "is reachable and GOLDPATH_DATABASE_URL is right"
            ) from exc
