"""The values the store hands out: frozen, slotted, detached from any session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Role = Literal["user", "assistant"]
RunState = Literal["running", "waiting", "ok", "error", "cancelled", "timeout"]

ROLES: frozenset[str] = frozenset({"user", "assistant"})
FINAL_STATUSES: frozenset[str] = frozenset({"ok", "error", "cancelled", "timeout"})


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    username: str
    password_hash: str
    created_at: datetime
    token_version: int = 0


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    thread_id: str
    owner_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: str
    thread_id: str
    role: Role
    text: str
    run_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    thread_id: str
    owner_id: str
    agent: str
    status: RunState
    created_at: datetime
    finished_at: datetime | None
    result_text: str | None
    error: str | None
    input_tokens: int | None = None
    """The tokens the run's model calls used, when the model reported them."""
    output_tokens: int | None = None
    node_id: str | None = None
    """The node (server process) that runs or ran it; see docs/deploy.md."""


@dataclass(frozen=True, slots=True)
class RunEventRecord:
    """One event of a run as it was sent: ``seq`` counts the run's events from 1; ``epoch``
    and ``offset`` are its place in the user's stream; ``frame`` is the wire frame's text."""

    seq: int
    epoch: str
    offset: int
    frame: str


@dataclass(frozen=True, slots=True)
class RunEventBatch:
    """Events of one run, to be stored for its owner."""

    owner_id: str
    run_id: str
    events: Sequence[RunEventRecord]


@dataclass(frozen=True, slots=True)
class RunLease:
    """Who runs a run and for how long before it must renew: a node's claim on its runs.

    A run whose lease ran out (its node died or lost the database) is finished by a sweep
    of any node; see `Store.renew_leases` and `Store.finish_lost_runs`.
    """

    node_id: str
    seconds: float
