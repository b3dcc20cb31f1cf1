"""How a run ends, or pauses: stored first, observed, then its one last event sent.

A run ends with exactly one ``agent_completed``, sent after its outcome was stored
(``on_complete``) unless another node ended it first. A run that pauses for approval is
stored (``on_pause``) before its ``approval_requested`` is sent, so that an answer always
finds it waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from goldpath.context import UserExecutionContext
from goldpath.engine._failures import describe
from goldpath.engine._outcome import OnComplete, OnPause, RunOutcome, RunWatch
from goldpath.engine._paused import PausedRun
from goldpath.errors import GoldpathError, RunFinishedError
from goldpath.events import AgentCompleted, ApprovalRequested, Emitter
from goldpath.tools import ApprovalPolicy, Tool

__all__ = ["NO_PAUSE", "PAUSE_FAILED", "can_pause", "end_run", "pause_run"]

logger = logging.getLogger("goldpath.engine")

NO_PAUSE = (
    "the tool {tool!r} needs a person's approval, and this run cannot wait for one; run it "
    "through the goldpath server, which can (docs/approvals.md)"
)
PAUSE_FAILED = "the run could not wait for approval; try again in a moment"


def can_pause(tools: Mapping[str, Tool], policy: ApprovalPolicy | None) -> bool:
    """Whether a call of a run with these tools and this policy can wait for approval."""
    return policy is not None or any(t.requires_approval for t in tools.values())


async def end_run(
    outcome: RunOutcome,
    emitter: Emitter,
    watch: RunWatch | None,
    on_complete: OnComplete | None,
    context: UserExecutionContext,
) -> RunOutcome:
    """Store the outcome (``on_complete``) and send the one ``agent_completed``."""
    cancelled_while_saving = False
    ended_elsewhere = False
    if on_complete is not None:
        try:
            outcome = await _completed(on_complete, outcome, context)
        except RunFinishedError:
            ended_elsewhere = True
        except asyncio.CancelledError:
            cancelled_while_saving = True
            outcome = RunOutcome(
                status="cancelled",
                duration_ms=outcome.duration_ms,
                text=outcome.text,
                error="the run was cancelled while its result was being saved",
                usage=outcome.usage,
            )
    if watch is not None:
        _tell_finished(watch, outcome, context)
    usage = outcome.usage
    if not ended_elsewhere:
        assert outcome.status != "waiting"  # only pause_run makes a waiting outcome
        await emitter.emit(
            AgentCompleted(
                status=outcome.status,
                duration_ms=outcome.duration_ms,
                text=outcome.text,
                error=outcome.error,
                input_tokens=usage.input_tokens if usage is not None else None,
                output_tokens=usage.output_tokens if usage is not None else None,
            )
        )
    if cancelled_while_saving:
        raise asyncio.CancelledError  # the cancel must still reach the caller
    return outcome


async def pause_run(
    pause: PausedRun,
    emitter: Emitter,
    watch: RunWatch | None,
    on_pause: OnPause | None,
    context: UserExecutionContext,
) -> RunOutcome | None:
    """Store the paused run and ask for approval; None when it could not be stored (the
    run then ends ``error``). A run ended elsewhere meanwhile sends nothing."""
    if on_pause is None:
        logger.error(NO_PAUSE.format(tool=pause.tool), extra=context.log_fields())
        return None
    outcome = RunOutcome("waiting", pause.elapsed_ms, usage=pause.usage)
    try:
        await on_pause(pause)
    except RunFinishedError:
        logger.warning("the run was ended elsewhere first", extra=context.log_fields())
        return outcome
    except Exception as exc:
        logger.error(
            "could not store the paused run: %s",
            describe(exc),
            exc_info=exc if not isinstance(exc, GoldpathError) else None,
            extra=context.log_fields(),
        )
        return None
    if watch is not None:
        _tell_finished(watch, outcome, context)
    await emitter.emit(ApprovalRequested(pause.call_id, pause.tool, pause.args))
    return outcome


def _tell_finished(watch: RunWatch, outcome: RunOutcome, context: UserExecutionContext) -> None:
    """An observer that fails is logged, never a reason for a run to end without its
    ``agent_completed``."""
    try:
        watch.finished(outcome)
    except Exception as exc:
        logger.error(
            "a run observer failed: %s", describe(exc), exc_info=exc, extra=context.log_fields()
        )


async def _completed(
    on_complete: OnComplete, outcome: RunOutcome, context: UserExecutionContext
) -> RunOutcome:
    try:
        await on_complete(outcome)
    except RunFinishedError:
        logger.warning("the run was ended elsewhere first", extra=context.log_fields())
        raise
    except Exception as exc:
        logger.error(
            "could not finish the run: %s",
            describe(exc),
            exc_info=exc if not isinstance(exc, GoldpathError) else None,
            extra=context.log_fields(),
        )
        return RunOutcome(
            status="error",
            duration_ms=outcome.duration_ms,
            text=outcome.text,
            error="the run's result could not be saved; try again in a moment",
            usage=outcome.usage,
        )
    return outcome
