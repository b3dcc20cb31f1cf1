"""The tables, as SQLAlchemy Core metadata; the migrations in ``migrations/`` build the same."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out: PostgreSQL keeps ``timestamptz``, SQLite keeps naive UTC text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGSERIAL on PostgreSQL; SQLite autoincrements only an INTEGER primary key (its rowid).
Sequence = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("user_id", String(ID_LENGTH), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("username_key", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("token_version", Integer, nullable=False, server_default="0"),
)
"""``token_version`` is in every token issued to the user; changing it revokes them all."""

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(ID_LENGTH), primary_key=True),
    Column(
        "user_id",
        String(ID_LENGTH),
        ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)
"""Tokens logged out before they expire (their ``jti``); a row goes once the token expired."""

threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(ID_LENGTH), primary_key=True),
    Column(
        "owner_id",
        String(ID_LENGTH),
        ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("title", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "owner_id", "updated_at", "thread_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("message_id", String(ID_LENGTH), nullable=False, unique=True),
    Column(
        "thread_id",
        String(ID_LENGTH),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("run_id", String(ID_LENGTH), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('user', 'assistant')", name="role"),
    Index(None, "thread_id", "created_at", "seq"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(ID_LENGTH), primary_key=True),
    Column(
        "thread_id",
        String(ID_LENGTH),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "owner_id",
        String(ID_LENGTH),
        ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("agent", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("result_text", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    # The node running the run and until when its lease holds (migration 0006).
    Column("node_id", String(ID_LENGTH), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # A run waiting for approval (migration 0007): the call it waits on, what continues it
    # (`goldpath.engine.PausedRun` as JSON), when nobody answering ends it, and the seq its
    # next stored event takes.
    Column("pending_call_id", Text, nullable=True),
    Column("paused_state", Text, nullable=True),
    Column("approval_deadline", UTCDateTime, nullable=True),
    Column("next_event_seq", Integer, nullable=True),
    CheckConstraint(
        "status IN ('running', 'waiting', 'ok', 'error', 'cancelled', 'timeout')", name="status"
    ),
    Index(None, "status"),
    Index(None, "thread_id"),
    Index(None, "node_id"),
    Index(None, "approval_deadline"),
)

# One row per batch of a run's events of one stream epoch: a run's events are written a
# few times per run, not once per event (one row per event cost ~30 us of CPU each).
run_events = Table(
    "run_events",
    metadata,
    Column(
        "run_id",
        String(ID_LENGTH),
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("epoch", String(ID_LENGTH), nullable=False),
    Column("first_offset", BigInteger, nullable=False),
    Column("last_offset", BigInteger, nullable=False),
    Column("offsets", Text, nullable=False),
    Column("frames", Text, nullable=False),
    Index(None, "epoch", "last_offset"),
)

agui_threads = Table(
    "agui_threads",
    metadata,
    Column(
        "thread_id",
        String(ID_LENGTH),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("agui_thread_id", Text, nullable=False),
)
"""The AG-UI client's own ``threadId`` of a thread made through ``POST /ag-ui``."""

agui_resumes = Table(
    "agui_resumes",
    metadata,
    Column("agui_run_id", String(ID_LENGTH), primary_key=True),
    Column(
        "run_id",
        String(ID_LENGTH),
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("answers", Integer, nullable=False),
    Index(None, "run_id"),
)
"""The AG-UI runs a ``POST /ag-ui`` with ``resume`` started (migration 0008): the client's
``runId`` (as ``agui_run_id``, made from it like a run id) names the part of the goldpath run
``run_id`` after its ``answers``-th answer."""
