"""The run service: the golden path from an authenticated chat message to a stored answer.

HTTP ``POST /threads/{id}/runs`` and the WebSocket ``chat`` frame both come here, so the
rules (length, rate, runs in flight, owner checks) are the same on both ways in.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any

from goldpath.cluster import Cluster, RateWindow
from goldpath.context import UserExecutionContext, is_real_id, new_id
from goldpath.engine import RunOutcome, UserExecutionEngine
from goldpath.errors import (
    ConflictError,
    GoldpathError,
    LimitExceededError,
    NotFoundError,
    UnknownAgentError,
)
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import Message
from goldpath.server._recorder import EventRecorder
from goldpath.server._text import is_text
from goldpath.store import RunLease, Store

__all__ = [
    "AcceptedRun",
    "MessageNotTextError",
    "MessageTooLargeError",
    "RateLimitedError",
    "RunService",
    "require_run_id",
    "require_thread_id",
]

logger = logging.getLogger("goldpath.server.runs")

HISTORY_MESSAGES = 100
"""How many earlier messages of the thread a run is given, newest kept."""


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


@dataclass(frozen=True, slots=True)
class AcceptedRun:
    run_id: str
    thread_id: str


@dataclass(slots=True)
class _Run:
    """A run in flight in this process; ``finishing`` once its result is being stored."""

    user_id: str
    thread_id: str
    task: asyncio.Task[None] | None = None
    started: bool = False
    finishing: bool = False


class RunService:
    """Starts, cancels and finishes runs; holds the tasks of the runs in flight here.

    Each run is stored with this node's ``lease``; a cancel for a run of another node is
    sent to that node through the ``cluster``.
    """

    __slots__ = (
        "_cluster",
        "_factory",
        "_lease",
        "_max_chars",
        "_messages",
        "_recorder",
        "_runs",
        "_store",
    )

    def __init__(
        self,
        store: Store,
        factory: ExecutionEngineFactory,
        recorder: EventRecorder,
        *,
        cluster: Cluster,
        lease: RunLease,
        max_message_chars: int,
        messages: RateWindow,
    ) -> None:
        self._store = store
        self._factory = factory
        self._recorder = recorder
        self._cluster = cluster
        self._lease = lease
        self._max_chars = max_message_chars
        self._messages = messages
        self._runs: dict[str, _Run] = {}

    def in_flight(self) -> int:
        return len(self._runs)

    def run_ids(self) -> list[str]:
        """The runs in flight on this node."""
        return list(self._runs)

    async def start(
        self,
        user_id: str,
        message: str,
        *,
        thread_id: str | None,
        agent: str | None,
        run_id: str | None = None,
        request_id: str | None = None,
        audit: dict[str, Any] | None = None,
    ) -> AcceptedRun:
        """Accept a run for the authenticated ``user_id`` and start it as a task.

        Raises, before anything is started or stored: `MessageTooLargeError`,
        `UnknownAgentError`, `NotFoundError` for a ``thread_id`` that cannot be an id
        (before the rate budget is spent), `RateLimitedError`, `TooManyRunsError`,
        `NotFoundError` (the thread is missing or someone else's), `ConflictError` for a
        ``run_id`` that was used already (a new run gets a new id when none is given). The
        run's task is created
        last, with no suspension between it and the return, so a caller can announce the run
        before any of its events can be emitted.
        """
        if len(message) > self._max_chars:
            raise MessageTooLargeError(len(message), self._max_chars)
        if not is_text(message):  # every way in (HTTP, /ws, AG-UI) passes here
            raise MessageNotTextError
        agents = self._factory.agents
        agent = agents.default if agent is None else agent  # "" is an unknown agent
        if agent not in agents:
            raise UnknownAgentError(agent, agents.names())
        if thread_id is not None:
            require_thread_id(thread_id)
        wait = await self._messages.try_hit(user_id)
        if wait:
            raise RateLimitedError(self._messages.limit, wait)
        new_thread = thread_id is None
        if thread_id is None:
            thread_id = new_id("thr")  # made with the run, in the same transaction
        run_id = new_id("run") if run_id is None else run_id
        context = UserExecutionContext(
            user_id=user_id,
            thread_id=thread_id,
            run_id=run_id,
            request_id=request_id or new_id("req"),
            agent_context={"agent": agent},
            audit_metadata=audit or {},
        )
        stack = AsyncExitStack()
        # Take the user's slot before the run is accepted: a full user gets 429 here.
        engine = await stack.enter_async_context(self._factory.user_execution_engine(context))
        try:
            # One transaction: the thread made or owner-checked, its history read, the run
            # and the user's message saved.
            _, _, earlier = await self._store.start_chat(
                user_id,
                thread_id,
                run_id,
                agent,
                message,
                new_thread=new_thread,
                history=HISTORY_MESSAGES,
                lease=self._lease,
            )
        except BaseException:
            await stack.aclose()
            raise
        history = tuple(Message(m.role, m.text) for m in earlier)
        self._recorder.start(user_id, run_id)
        run = self._runs[run_id] = _Run(user_id, thread_id)
        run.task = asyncio.create_task(
            self._execute(run, stack, engine, agent, message, history), name=f"goldpath {run_id}"
        )
        logger.info("run accepted", extra={**context.log_fields(), "agent": agent})
        return AcceptedRun(run_id, thread_id)

    async def _execute(
        self,
        run: _Run,
        stack: AsyncExitStack,
        engine: UserExecutionEngine,
        agent: str,
        message: str,
        history: tuple[Message, ...],
    ) -> None:
        run.started = True
        context = engine.context
        try:
            async with stack:
                outcome = await engine.run(
                    agent, message, history=history, on_complete=partial(self._finish, run, context)
                )
            logger.info("run finished", extra={**context.log_fields(), "status": outcome.status})
        except asyncio.CancelledError:
            # The engine has stored the run as cancelled and sent agent_completed.
            logger.info("run cancelled", extra=context.log_fields())
        except Exception:
            logger.exception("run failed outside the engine", extra=context.log_fields())
        finally:
            self._runs.pop(context.run_id, None)
            self._recorder.end(context.run_id)

    async def _finish(self, run: _Run, context: UserExecutionContext, outcome: RunOutcome) -> None:
        # From here on the run cannot be cancelled: its result is being stored.
        run.finishing = True
        usage = outcome.usage
        # The run's events not stored yet go with its status and answer; agent_completed,
        # sent after this, is stored just after it is sent (docs/server.md).
        events = await self._recorder.take(context.run_id)
        await self._store.finish_run(
            context.user_id,
            context.run_id,
            outcome.status,
            outcome.text,
            outcome.error,
            input_tokens=usage.input_tokens if usage is not None else None,
            output_tokens=usage.output_tokens if usage is not None else None,
            events=events,
        )

    async def cancel(self, user_id: str, run_id: str) -> None:
        """Cancel a run of ``user_id``, on whichever node it runs.

        `NotFoundError` for an unknown run or someone else's; `ConflictError` for a run
        that has finished (or is storing its result). A run of another node is cancelled by
        that node when the cancel reaches it; one whose node stopped is ended by a sweep.
        """
        require_run_id(run_id)
        run = self._runs.get(run_id)
        if run is None or run.user_id != user_id:
            record = await self._store.get_run(user_id, run_id)
            if record.status != "running":
                raise _finished(run_id, record.status)
            if record.node_id is not None and record.node_id != self._cluster.node_id:
                await self._cluster.send_cancel(record.node_id, run_id)
            return  # a run of this node that ended meanwhile, or one a stopped node left
        if not run.started:
            await asyncio.sleep(0)  # the task's first step is already scheduled: let it run
        if run.finishing or run.task is None or run.task.done():
            raise ConflictError(
                f"run {run_id!r} is already finishing; only a running run can be cancelled"
            )
        run.task.cancel()

    async def stop_thread(self, user_id: str, thread_id: str) -> None:
        """Cancel the user's runs of the thread in flight here, and wait until each has
        stored its end (a run already storing its result is waited for, not cancelled)."""
        await asyncio.sleep(0)  # runs accepted a moment ago take their first step
        tasks = []
        for run in tuple(self._runs.values()):
            if run.user_id != user_id or run.thread_id != thread_id or run.task is None:
                continue
            tasks.append(run.task)
            if not run.finishing:
                run.task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def cancel_here(self, run_id: str) -> None:
        """Cancel a run of this node another node was asked to cancel (or that this node
        lost to a sweep); nothing for a run that is not here or is storing its result."""
        run = self._runs.get(run_id)
        if run is None or run.finishing or run.task is None:
            return
        if not run.started:  # cancelled before its first step, it would never end itself
            asyncio.get_running_loop().call_soon(self.cancel_here, run_id)
            return
        run.task.cancel()

    async def shutdown(self) -> None:
        """Cancel every run in flight and wait for each to store its end."""
        await asyncio.sleep(0)  # runs accepted a moment ago take their first step
        tasks = []
        for run in tuple(self._runs.values()):
            if run.task is None:
                continue
            tasks.append(run.task)
            if not run.finishing:
                run.task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _finished(run_id: str, status: str) -> ConflictError:
    return ConflictError(
        f"run {run_id!r} already finished with status {status!r}; "
        "only a running run can be cancelled"
    )
