"""Token usage: what a model call cost, counted toward the run that made the call.

A model reports a call's tokens with `report_usage`, which adds them to a running total
kept in the `contextvars` context of the task making the call (the task running the
agent). The engine reads the total when a run starts (`usage_mark`) and when it ends
(`usage_since`): the difference is the run's. Concurrent runs run in tasks of their own,
so they never mix; a run costs no object unless its model reports usage; agents never see
it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Usage", "report_usage", "usage_mark", "usage_since"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens used: by one model call, or added up over a run."""

    input_tokens: int
    output_tokens: int


_reported: ContextVar[Usage | None] = ContextVar("goldpath_reported_usage", default=None)


def report_usage(input_tokens: int, output_tokens: int) -> None:
    """Count one model call's tokens toward the run in progress (call it from ``stream``)."""
    known = _reported.get()
    if known is not None:
        input_tokens += known.input_tokens
        output_tokens += known.output_tokens
    _reported.set(Usage(input_tokens, output_tokens))


def usage_mark() -> Usage | None:
    """The tokens reported in this context so far; give it to `usage_since` later."""
    return _reported.get()


def usage_since(mark: Usage | None) -> Usage | None:
    """The tokens reported in this context since `usage_mark` gave ``mark``; None when no
    model call reported any."""
    now = _reported.get()
    if now is mark:
        return None
    assert now is not None  # the total only grows
    if mark is None:
        return now
    return Usage(now.input_tokens - mark.input_tokens, now.output_tokens - mark.output_tokens)
