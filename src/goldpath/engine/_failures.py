"""How a run's failures are logged for the operator and told to the user."""

from __future__ import annotations

import logging

from goldpath.context import UserExecutionContext
from goldpath.errors import GoldpathError, LimitExceededError, ModelError

__all__ = ["describe", "failed"]

logger = logging.getLogger("goldpath.engine")


def describe(exc: BaseException) -> str:
    """An error as the operator sees it: goldpath's own messages as they are, others with
    their type."""
    if isinstance(exc, GoldpathError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def failed(exc: Exception, context: UserExecutionContext) -> str:
    """Log why the run failed, with its ids, and return what its user is told.

    The user reads ``agent_completed.error``: a limit of their run is theirs to act on and
    is told as it is; anything else (a model endpoint's address and status, a setting to
    fix, an exception's text) is the operator's, and stays in the log.
    """
    unexpected = not isinstance(exc, GoldpathError)
    logger.error(
        "run failed: %s",
        describe(exc),
        exc_info=exc if unexpected else None,
        extra=context.log_fields(),
    )
    if isinstance(exc, LimitExceededError):
        return str(exc)
    if isinstance(exc, ModelError):
        return "the model could not answer; try again in a moment"
    return "the run failed because of an error in the server; try again in a moment"
