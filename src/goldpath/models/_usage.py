"""Token usage: what a model call cost, counted toward the run that made the call.

A model reports a call's tokens with `report_usage`; the engine opens a count for each run
and reads it when the run ends. The count lives in the run's `contextvars` context (the
task running the agent), so concurrent runs never mix, and it costs a run no object on
the path of its outputs: agents never see usage, and models that report none pay nothing.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

__all__ = ["Usage", "close_usage", "open_usage", "report_usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens used: by one model call, or added up over a run."""

    input_tokens: int
    output_tokens: int


_run_usage: ContextVar[Usage | None] = ContextVar("goldpath_run_usage", default=None)


def report_usage(input_tokens: int, output_tokens: int) -> None:
    """Count one model call's tokens toward the run in progress (call it from ``stream``).

    Outside a run, or in a task the agent started itself, the count goes nowhere.
    """
    known = _run_usage.get()
    if known is not None:
        input_tokens += known.input_tokens
        output_tokens += known.output_tokens
    _run_usage.set(Usage(input_tokens, output_tokens))


def open_usage() -> Token[Usage | None]:
    """Start a run's count (the engine does, as a run starts); give the token to `close_usage`."""
    return _run_usage.set(None)


def close_usage(token: Token[Usage | None]) -> Usage | None:
    """The run's tokens, None when no model call reported any; the count before the run
    (an outer run's, for a run started inside another) is restored."""
    used = _run_usage.get()
    _run_usage.reset(token)
    return used
