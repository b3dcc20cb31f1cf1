"""What a run's request must be: ids that can exist, text a store can keep, the limits."""

from __future__ import annotations

from goldpath.context import is_real_id
from goldpath.errors import GoldpathError, LimitExceededError, NotFoundError

__all__ = [
    "MessageNotTextError",
    "MessageTooLargeError",
    "RateLimitedError",
    "require_run_id",
    "require_thread_id",
]


def require_thread_id(thread_id: str) -> None:
    """`NotFoundError`, the body of a missing thread, for an id no thread can have
    (empty, whitespace, ``null``, ``undefined``, ...): checked before anything is stored."""
    if not is_real_id(thread_id):
        raise NotFoundError(f"thread {thread_id!r} not found; check the thread id")


def require_run_id(run_id: str) -> None:
    """`NotFoundError`, the body of a missing run, for an id no run can have."""
    if not is_real_id(run_id):
        raise NotFoundError(f"run {run_id!r} not found; check the run id")


class MessageNotTextError(GoldpathError, ValueError):
    """A chat message holds a NUL character or a lone surrogate, which no store can keep."""

    def __init__(self) -> None:
        super().__init__(
            "the message must be text: no NUL characters (\\u0000) and no lone "
            "surrogates (such as \\udfff)"
        )


class MessageTooLargeError(LimitExceededError):
    """A chat message is longer than the configured limit."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"the message has {length} characters, more than the {limit} allowed; "
            "send a shorter message"
        )


class RateLimitedError(LimitExceededError):
    """The user sent more chat messages than allowed in the last minute."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"more than {limit} chat messages in a minute; wait {retry_after} s and send again"
        )
        self.retry_after = retry_after
