"""What a run is held to, how it ended, and the seams through which others watch it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from goldpath.context import UserExecutionContext
from goldpath.events import EventSink, RunStatus
from goldpath.models import ChatModel, Usage

if TYPE_CHECKING:
    from goldpath.engine._paused import PausedRun

__all__ = [
    "OnComplete",
    "OnPause",
    "OutcomeStatus",
    "RunLimits",
    "RunObserver",
    "RunOutcome",
    "RunWatch",
]


@dataclass(frozen=True, slots=True)
class RunLimits:
    """The limits every run is held to; the factory enforces ``max_runs_per_user``.

    ``run_timeout`` counts the time a run works, not the time it waits for an approval;
    ``approval_timeout`` is how long a call may wait for one.
    """

    max_runs_per_user: int = 4
    run_timeout: float = 120.0
    max_tool_calls: int = 32
    tool_timeout: float = 30.0
    approval_timeout: float = 24 * 3600.0

    def __post_init__(self) -> None:
        for name in (
            "max_runs_per_user",
            "run_timeout",
            "max_tool_calls",
            "tool_timeout",
            "approval_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"RunLimits.{name} must be positive, not {getattr(self, name)}")


OutcomeStatus: TypeAlias = RunStatus | Literal["waiting"]
"""A run's ``agent_completed`` status, or ``waiting``: it paused for a person's approval."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended (what ``agent_completed`` said, for the caller to store), or that it
    paused: status ``waiting``, and no ``agent_completed`` yet."""

    status: OutcomeStatus
    duration_ms: float
    text: str | None = None
    error: str | None = None
    usage: Usage | None = None
    """The tokens the run's model calls used, when the model reported them."""


class RunWatch(Protocol):
    """One run, as an observer (metrics, traces) sees it: made as the run starts, it may
    wrap what the run writes to and asks, and hears how the run ended."""

    def sink(self, sink: EventSink) -> EventSink:
        """The sink the run's events go through (``sink`` itself, or a wrapper of it)."""
        ...

    def model(self, model: ChatModel) -> ChatModel:
        """The model the run's agent asks (``model`` itself, or a wrapper of it)."""
        ...

    def finished(self, outcome: RunOutcome) -> None:
        """The run ended so (or paused: ``waiting``); called once, just before
        ``agent_completed`` (or ``approval_requested``) is sent."""
        ...


class RunObserver(Protocol):
    """What the server hands the factory at start-up to watch every run. Without one (the
    default) the engine does nothing more than run."""

    def watch(self, context: UserExecutionContext, agent: str) -> RunWatch: ...


OnComplete = Callable[[RunOutcome], Awaitable[None]]
"""Called with the outcome before ``agent_completed`` is sent, so the answer is stored first.

Raising `RunFinishedError` says the run was ended elsewhere (a sweep on another node found
its lease run out) and that ending wrote its ``agent_completed``: the engine writes none.
"""

OnPause = Callable[["PausedRun"], Awaitable[None]]
"""Called when a run pauses for approval, to store what continues it, before
``approval_requested`` is sent: an answer can only come once the run can be continued.

Raising `RunFinishedError` says the run was ended elsewhere (as for `OnComplete`); any
other failure ends the run with status ``error``.
"""
