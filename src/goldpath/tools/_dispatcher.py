"""The per-run tool dispatcher: every tool call, whatever happens, becomes a result."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from goldpath.context import UserExecutionContext
from goldpath.errors import ToolCallLimitError
from goldpath.events import ApprovalResolved, Emitter, ToolCompleted, ToolExecuting
from goldpath.tools._approval import ApprovalNeeded, RunApprovals
from goldpath.tools._result import ToolResult
from goldpath.tools._schema import ArgumentError
from goldpath.tools._tool import Tool

__all__ = ["ToolDispatcher", "ToolResult"]

logger = logging.getLogger("goldpath.tools")


class ToolDispatcher:
    """Looks tools up, checks arguments, enforces the run's limits and reports every call.

    Each call emits ``tool_executing`` then exactly one ``tool_completed`` with the same
    ``call_id``: an unknown tool, bad arguments, an exception, a timeout and cancellation
    each end the pair with ``ok: false``.

    With ``approvals`` (a run whose calls may wait for a person), a call that needs approval
    raises `ApprovalNeeded` instead, before any event; a continued run gets the results of
    its earlier calls back without running them again, and its answered call's
    ``approval_resolved`` before the pair (or, rejected, instead of it).
    """

    __slots__ = (
        "_approvals",
        "_calls",
        "_context",
        "_emitter",
        "_max_calls",
        "_timeout",
        "_tools",
    )

    def __init__(
        self,
        context: UserExecutionContext,
        tools: Mapping[str, Tool],
        emitter: Emitter,
        *,
        max_calls: int,
        timeout: float,
        approvals: RunApprovals | None = None,
    ) -> None:
        self._context = context
        self._approvals = approvals
        self._tools = tools
        self._emitter = emitter
        self._max_calls = max_calls
        self._timeout = timeout
        self._calls = 0

    def specs(self) -> list[Mapping[str, Any]]:
        """The tools of this run, described for a chat model."""
        return [t.spec() for t in self._tools.values()]

    @property
    def calls_made(self) -> int:
        return self._calls

    async def call(self, call_id: str, name: str, arguments: object) -> ToolResult:
        """Run one tool call; raises only `ToolCallLimitError` (after reporting the call),
        and `ApprovalNeeded` for a call that waits for a person."""
        approvals = self._approvals
        if approvals is not None:
            return await self._call_approved(approvals, call_id, name, arguments)
        return await self._call(call_id, name, arguments)

    async def _call_approved(
        self, approvals: RunApprovals, call_id: str, name: str, arguments: object
    ) -> ToolResult:
        recorded = approvals.replay(call_id)
        if recorded is not None:  # made before the run paused: given back, not run again
            self._calls += 1
            return recorded
        approvals.replaying = False  # from this call on, the run does what it never did
        answer = approvals.take_answer(call_id)
        if answer is not None:
            await self._emitter.emit(ApprovalResolved(call_id, answer.decision, "user"))
            if answer.decision == "reject":
                self._calls += 1
                result = answer.rejection()
                approvals.record(call_id, result)
                return result
            if answer.args is not None:
                arguments = answer.args
        else:
            found = self._tools.get(name)
            if found is not None and approvals.needs_approval(
                self._context, found, _shown(arguments)
            ):
                raise ApprovalNeeded(call_id, name, _shown(arguments))
        result = await self._call(call_id, name, arguments)
        approvals.record(call_id, result)
        return result

    async def _call(self, call_id: str, name: str, arguments: object) -> ToolResult:
        emitter = self._emitter
        await emitter.emit(ToolExecuting(call_id=call_id, tool=name, args=_shown(arguments)))
        started = time.perf_counter()
        self._calls += 1
        result = ToolResult(ok=False, error="the run was cancelled while the tool ran")
        try:
            if self._calls > self._max_calls:
                result = ToolResult(ok=False, error=str(ToolCallLimitError(self._max_calls)))
                raise ToolCallLimitError(self._max_calls)
            result = await self._run(name, arguments)
            return result
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            await emitter.emit(
                ToolCompleted(
                    call_id=call_id,
                    tool=name,
                    ok=result.ok,
                    duration_ms=duration_ms,
                    result=result.value,
                    error=result.error,
                )
            )

    async def _run(self, name: str, arguments: object) -> ToolResult:
        found = self._tools.get(name)
        if found is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolResult(ok=False, error=f"there is no tool {name!r}; tools: {known}")
        try:
            kwargs = found.bind(arguments)
        except ArgumentError as exc:
            return ToolResult(ok=False, error=str(exc))
        timeout = found.timeout if found.timeout is not None else self._timeout
        try:
            async with asyncio.timeout(timeout) as deadline:
                value = await found.invoke(self._context, kwargs)
        except TimeoutError as exc:
            if deadline.expired():
                return ToolResult(ok=False, error=f"{name!r} took longer than {timeout:g} s")
            return ToolResult(ok=False, error=f"TimeoutError: {exc}")
        except Exception as exc:
            logger.warning(
                "tool %r failed: %s: %s",
                name,
                type(exc).__name__,
                exc,
                extra=self._context.log_fields(),
            )
            return ToolResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return ToolResult(ok=True, value=value)


def _shown(arguments: object) -> Mapping[str, Any]:
    """A call's arguments as events show them: always an object."""
    return arguments if isinstance(arguments, Mapping) else {"arguments": arguments}
