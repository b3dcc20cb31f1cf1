"""Approvals as the dispatcher sees them: which calls wait for a person, and the state of a
run continued after one was answered.

A run that pauses for approval holds no task while it waits; when the answer comes, the
engine runs its agent again from the start and replays what the run saw. `RunApprovals`
carries the tool side of that replay: the results of the calls made before the pause
(given back, never run twice) and the answer the run is continued with.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, GoldpathError
from goldpath.events import ApprovalDecision
from goldpath.tools._result import ToolResult
from goldpath.tools._tool import Tool

__all__ = [
    "ApprovalAnswer",
    "ApprovalNeeded",
    "ApprovalPolicy",
    "ReplayError",
    "RunApprovals",
    "requiring_approval",
]

logger = logging.getLogger("goldpath.tools")

ApprovalPolicy = Callable[[UserExecutionContext, str, Mapping[str, Any]], bool]
"""Decides per call whether a person must approve it: ``(context, tool name, args)``.

It is asked for every call of a tool that does not require approval itself; a policy that
raises is logged and the call waits for approval (it fails closed).
"""


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    """A person's answer to one pending call: ``args``, when given, replace the model's."""

    decision: ApprovalDecision
    args: Mapping[str, Any] | None = None
    reason: str | None = None

    def rejection(self) -> ToolResult:
        """What the model is told about a call its user rejected."""
        said = f": {self.reason}" if self.reason else ""
        return ToolResult(ok=False, error=f"the user rejected this call{said}")


class ApprovalNeeded(BaseException):
    """The dispatcher's signal that a call waits for a person: the engine pauses the run.

    A `BaseException`, like `asyncio.CancelledError`, so that an agent's ``except
    Exception`` around a tool call does not swallow the pause.
    """

    def __init__(self, call_id: str, tool: str, args: Mapping[str, Any]) -> None:
        super().__init__(call_id, tool)
        self.call_id = call_id
        self.tool = tool
        self.arguments = args  # not ``args``: BaseException has its own


class RunApprovals:
    """One run's approval state: the policy, the results of its calls so far in the order
    they were made (the record a continuation replays), and the answer it was continued
    with, used once.

    Results are replayed by position, not by call id: a model may reuse an id in another
    turn. ``replaying`` is true while a continued run repeats what it did before its
    pause; the engine holds back the events the agent emits meanwhile (they were sent).
    """

    __slots__ = ("_answer", "_answer_call", "_policy", "_replayed", "replaying", "results")

    def __init__(
        self,
        policy: ApprovalPolicy | None,
        results: list[tuple[str, ToolResult]] | None = None,
        answer: tuple[str, ApprovalAnswer] | None = None,
    ) -> None:
        self._policy = policy
        self.results: list[tuple[str, ToolResult]] = [] if results is None else results
        self._replayed = 0
        self._answer_call: str | None = None
        self._answer: ApprovalAnswer | None = None
        if answer is not None:
            self._answer_call, self._answer = answer
        self.replaying = answer is not None

    @property
    def answered(self) -> bool:
        """Whether the call the run was continued for has been reached (or there is none)."""
        return self._answer is None

    def replay(self, call_id: str) -> ToolResult | None:
        """The recorded result of the run's next call when it was made before the pause."""
        index = self._replayed
        if index >= len(self.results):
            return None
        recorded_id, result = self.results[index]
        if recorded_id != call_id:
            raise ReplayError(
                f"the agent's call {index + 1} was {recorded_id!r} before the run paused and "
                f"is {call_id!r} now"
            )
        self._replayed += 1
        return result

    def take_answer(self, call_id: str) -> ApprovalAnswer | None:
        """The answer the run was continued with, at its first call past the record; once.

        `ReplayError` when that call is not the one the answer is for.
        """
        answer = self._answer
        if answer is None:
            return None
        if call_id != self._answer_call:
            raise ReplayError(
                f"the run paused at call {self._answer_call!r} and reached {call_id!r} instead"
            )
        self._answer = self._answer_call = None
        return answer

    def record(self, call_id: str, result: ToolResult) -> None:
        self.results.append((call_id, result))
        self._replayed += 1

    def needs_approval(
        self, context: UserExecutionContext, tool: Tool, args: Mapping[str, Any]
    ) -> bool:
        if tool.requires_approval:
            return True
        if self._policy is None:
            return False
        try:
            return bool(self._policy(context, tool.name, args))
        except Exception as exc:
            logger.error(
                "the approval policy failed on %r; the call waits for approval: %s: %s",
                tool.name,
                type(exc).__name__,
                exc,
                extra=context.log_fields(),
            )
            return True


class ReplayError(GoldpathError):
    """A run continued after an approval did not repeat what it did before its pause."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"{detail}: an agent whose calls wait for approval must do the same again given "
            "the same model answers and tool results, because it is run again from its start "
            "to continue (docs/approvals.md)"
        )


def requiring_approval(tools: Iterable[Tool], names: Collection[str]) -> tuple[Tool, ...]:
    """``tools``, those named in ``names`` made to require approval (a deployment's list,
    ``GOLDPATH_APPROVAL_TOOLS``); `ConfigurationError` for a name no tool has."""
    given = tuple(tools)
    unknown = sorted(set(names) - {t.name for t in given})
    if unknown:
        known = ", ".join(sorted(t.name for t in given)) or "none"
        raise ConfigurationError(
            f"GOLDPATH_APPROVAL_TOOLS names {', '.join(map(repr, unknown))}, which no tool is "
            f"called; the tools are: {known}"
        )
    return tuple(
        dataclasses.replace(t, requires_approval=True) if t.name in names else t for t in given
    )
