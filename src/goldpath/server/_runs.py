"""The run service: the golden path from an authenticated chat message to a stored answer.

HTTP ``POST /threads/{id}/runs`` and the WebSocket ``chat`` frame both come here, so the
rules (length, rate, runs in flight, owner checks) are the same on both ways in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from goldpath.cluster import Cluster, RateWindow
from goldpath.context import UserExecutionContext, new_id
from goldpath.engine import PausedRun, RunOutcome, UserExecutionEngine
from goldpath.errors import ConflictError, NotFoundError, UnknownAgentError
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import Message
from goldpath.server._recorder import EventRecorder
from goldpath.server._run_rules import (
    MessageNotTextError,
    MessageTooLargeError,
    RateLimitedError,
    require_run_id,
    require_thread_id,
)
from goldpath.server._text import is_text
from goldpath.store import PausedRunRecord, RunLease, RunRecord, Store
from goldpath.tools import ApprovalAnswer

__all__ = ["AcceptedRun", "RunService"]

logger = logging.getLogger("goldpath.server.runs")

STOP_WAIT = 5.0
"""How long deleting a thread waits for its runs on other nodes to store their ends."""

HISTORY_MESSAGES = 100
"""How many earlier messages of the thread a run is given, newest kept."""


@dataclass(frozen=True, slots=True)
class AcceptedRun:
    run_id: str
    thread_id: str


@dataclass(slots=True)
class _Run:
    """A run in flight in this process; ``finishing`` once its result or its pause is being
    stored (its task is not cancelled then), ``pausing`` in the second case.

    ``cancel_requested``: a cancel was asked for; once the task has ended, a run that paused
    all the same is ended then. That is how a cancel that met the run storing its pause is
    carried out, and one that did not reach the task: Python 3.11's ``asyncio.wait_for``
    (used by redis-py to send a command) swallows a cancel that arrives as its awaited
    future completes, and the run went on to wait for approval."""

    user_id: str
    thread_id: str
    task: asyncio.Task[None] | None = None
    started: bool = False
    finishing: bool = False
    pausing: bool = False
    cancel_requested: bool = False


class RunService:
    """Starts, cancels and finishes runs; holds the tasks of the runs in flight here.

    Each run is stored with this node's ``lease``; a cancel for a run of another node is
    sent to that node through the ``cluster``.
    """

    __slots__ = (
        "_chores",
        "_cluster",
        "_early",
        "_factory",
        "_lease",
        "_max_chars",
        "_messages",
        "_paused_here",
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
        # Cancels from another node that found no task here: for a run about to start
        # here, and the runs that paused here (their user), each for EARLY_CANCEL_SECONDS.
        self._early: dict[str, float] = {}
        self._paused_here: dict[str, tuple[str, float]] = {}
        self._chores: set[asyncio.Task[None]] = set()

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
        run = _Run(user_id, thread_id)
        work = partial(engine.run, agent, message, history=history)
        self._launch(run_id, run, self._execute(run, stack, engine, work))
        logger.info("run accepted", extra={**context.log_fields(), "agent": agent})
        return AcceptedRun(run_id, thread_id)

    def _launch(self, run_id: str, run: _Run, body: Coroutine[Any, Any, None]) -> None:
        """Hold ``run`` and start its task. A cancel another node sent for it that came
        first (that node read the run as running here before this node went on) is
        carried out now."""
        self._runs[run_id] = run
        run.task = asyncio.create_task(body, name=f"goldpath {run_id}")
        sent = self._early.pop(run_id, None)
        if sent is not None and asyncio.get_running_loop().time() - sent < EARLY_CANCEL_SECONDS:
            self.cancel_here(run_id)

    async def _execute(
        self,
        run: _Run,
        stack: AsyncExitStack,
        engine: UserExecutionEngine,
        work: Callable[..., Awaitable[RunOutcome]],
    ) -> None:
        """The run's task: ``work`` is the engine's `run` or `resume` of it, given the
        service's ways to store its end or its pause."""
        run.started = True
        context = engine.context
        try:
            async with stack:
                outcome = await work(
                    on_complete=partial(self._finish, run, context),
                    on_pause=partial(self._pause, run, context),
                )
            logger.info("run finished", extra={**context.log_fields(), "status": outcome.status})
        except asyncio.CancelledError:
            # The engine has stored the run as cancelled and sent agent_completed.
            logger.info("run cancelled", extra=context.log_fields())
        except Exception:
            logger.exception("run failed outside the engine", extra=context.log_fields())
        finally:
            cancel = run.cancel_requested  # read and forgotten in one step: no cancel between
            self._forget(run, context.run_id)
            if run.pausing:  # a cancel another node sends now finds it by its user
                now = asyncio.get_running_loop().time()
                self._paused_here = {
                    r: kept
                    for r, kept in self._paused_here.items()
                    if now - kept[1] < EARLY_CANCEL_SECONDS
                }
                self._paused_here[context.run_id] = (context.user_id, now)
            if cancel:
                await self._cancel_later(context.user_id, context.run_id)

    async def _cancel_later(self, user_id: str, run_id: str) -> None:
        """Carry out a cancel the run's task did not: it waits now (ended at once), or was
        answered meanwhile (cancelled where it runs again), or has ended (nothing to do)."""
        try:
            await self.cancel(user_id, run_id)
        except (ConflictError, NotFoundError):
            pass  # it ended meanwhile: nothing is left to cancel
        except Exception:
            logger.exception("could not cancel the run after its pause", extra={"run_id": run_id})

    def _forget(self, run: _Run, run_id: str) -> None:
        """The run's task is over. A run that paused may be continued here already, by a
        new task: that one's entry and recording stay."""
        if self._runs.get(run_id) is run:
            del self._runs[run_id]
            self._recorder.end(run_id)

    async def _finish(self, run: _Run, context: UserExecutionContext, outcome: RunOutcome) -> None:
        # From here on the run cannot be cancelled: its result is being stored.
        run.finishing = True
        assert outcome.status != "waiting"  # a paused run is stored by _pause
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

    async def _pause(self, run: _Run, context: UserExecutionContext, paused: PausedRun) -> None:
        # From here on the run's task is not cancelled: it is being stored as waiting. A
        # cancel meanwhile is carried out once the task has ended (_execute).
        run.finishing = run.pausing = True
        events, next_seq = await self._recorder.pausing(context.run_id)
        await self._store.pause_run(
            context.user_id,
            context.run_id,
            call_id=paused.call_id,
            state=paused.to_json(),
            waits_for=self._factory.limits.approval_timeout,
            next_event_seq=next_seq,
            events=events,
        )

    async def answer(
        self,
        user_id: str,
        run_id: str,
        call_id: str,
        answer: ApprovalAnswer,
        *,
        request_id: str | None = None,
        audit: dict[str, Any] | None = None,
    ) -> None:
        """Continue the user's run waiting for approval of ``call_id`` with ``answer``, as
        a task of this node (whichever node ran it before).

        `NotFoundError` for an unknown run or someone else's; `ConflictError` when the run
        is not waiting for that call (answered already, here or on another node: the store
        decides which answer continues the run); `TooManyRunsError` when the user's runs in
        flight are at the limit (the answer can be sent again).
        """
        require_run_id(run_id)
        if not is_text(call_id):
            raise NotFoundError(f"call {call_id!r} not found; check the call id")
        record = await self._store.get_run(user_id, run_id)
        if record.status != "waiting":
            raise ConflictError(
                f"run {run_id!r} is not waiting for approval (its status is "
                f"{record.status!r}); there is nothing to answer"
            )
        context = _context_of(record, request_id, audit)
        stack = AsyncExitStack()
        engine = await stack.enter_async_context(self._factory.user_execution_engine(context))
        try:
            taken = await self._store.continue_paused_run(user_id, run_id, call_id, self._lease)
            paused = PausedRun.from_json(taken.state)
        except BaseException:
            await stack.aclose()
            raise
        self._recorder.start(user_id, run_id, seq=taken.next_event_seq - 1)
        run = _Run(user_id, record.thread_id)
        self._launch(
            run_id, run, self._execute(run, stack, engine, partial(engine.resume, paused, answer))
        )
        logger.info("run continued", extra={**context.log_fields(), "decision": answer.decision})

    async def _end_paused(
        self, taken: PausedRunRecord, status: Literal["timeout", "cancelled"]
    ) -> None:
        """End a waiting run this node took back from the store, without continuing it."""
        context = _context_of(taken.run, None, None)
        run = _Run(taken.run.owner_id, taken.run.thread_id, started=True)
        self._recorder.start(context.user_id, context.run_id, seq=taken.next_event_seq - 1)
        try:
            await self._factory.create_for_user(context).end_paused(
                PausedRun.from_json(taken.state),
                status,
                on_complete=partial(self._finish, run, context),
            )
        finally:
            self._recorder.end(context.run_id)

    async def end_expired_approvals(self) -> int:
        """End with status ``timeout`` every waiting run nobody answered in time; returns
        how many this node ended (the store gives each to one node)."""
        taken = await self._store.take_expired_approvals(self._lease)
        for paused in taken:
            await self._end_paused(paused, "timeout")
        return len(taken)

    async def cancel(self, user_id: str, run_id: str) -> None:
        """Cancel a run of ``user_id``, on whichever node it runs.

        `NotFoundError` for an unknown run or someone else's; `ConflictError` for a run
        that has finished (or is storing its result). A run of another node is cancelled by
        that node when the cancel reaches it; one whose node stopped is ended by a sweep.
        A run may move on while it is looked at (pause, be answered, go on here or at
        another node): it is looked at again until the cancel reaches it.
        """
        require_run_id(run_id)
        for _ in range(_CANCEL_LOOKS):
            run = self._runs.get(run_id)
            if run is not None and run.user_id == user_id:
                if not run.started:
                    await asyncio.sleep(0)  # the task's first step is scheduled: let it run
                if _flagged_while_pausing(run):
                    return
                if not run.finishing and run.task is not None and not run.task.done():
                    run.cancel_requested = True
                    run.task.cancel()
                    return
            record = await self._store.get_run(user_id, run_id)
            if record.status == "waiting":  # paused for approval (maybe by this node just now)
                try:
                    taken = await self._store.continue_paused_run(
                        user_id, run_id, None, self._lease
                    )
                except ConflictError:
                    continue  # answered meanwhile: it runs again, here or elsewhere
                await self._end_paused(taken, "cancelled")
                return
            if record.status != "running":
                raise _finished(run_id, record.status)
            if record.node_id != self._cluster.node_id:
                if record.node_id is not None:  # None: a run a stopped node left, for a sweep
                    await self._cluster.send_cancel(record.node_id, run_id)
                return
            if run is not None and run is self._runs.get(run_id) and not run.pausing:
                raise ConflictError(
                    f"run {run_id!r} is already finishing; only a running run can be cancelled"
                )
            # Running here, yet no task of it was found running: its task is about to start
            # (its answer is being taken here), or it paused here while the store was read.
            self.cancel_here(run_id)
            return
        raise ConflictError(
            f"run {run_id!r} kept changing while it was being cancelled; cancel it again"
        )

    async def stop_thread(self, user_id: str, thread_id: str) -> None:
        """Cancel the user's runs of the thread, here and on other nodes, and wait until
        each has stored its end (a run already storing its result is waited for, not
        cancelled; one on another node for at most `STOP_WAIT` seconds)."""
        await asyncio.sleep(0)  # runs accepted a moment ago take their first step
        tasks = []
        for run in tuple(self._runs.values()):
            if run.user_id != user_id or run.thread_id != thread_id or run.task is None:
                continue
            tasks.append(run.task)
            if not run.finishing:
                run.task.cancel()
        here = self._cluster.node_id
        elsewhere = {
            r.run_id: r.node_id
            for r in await self._store.running_runs(user_id, thread_id)
            if r.node_id is not None and r.node_id != here
        }
        for run_id, node_id in elsewhere.items():
            await self._cluster.send_cancel(node_id, run_id)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        deadline = asyncio.get_running_loop().time() + STOP_WAIT
        waiting_for = set(elsewhere)
        while waiting_for and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            running = {r.run_id for r in await self._store.running_runs(user_id, thread_id)}
            waiting_for &= running

    def cancel_here(self, run_id: str) -> None:
        """Cancel a run of this node another node was asked to cancel (or that this node
        lost to a sweep); nothing for a run storing its result. A run not here may have
        paused here a moment ago (it is cancelled through the store) or be about to start
        here (`_launch` cancels it)."""
        run = self._runs.get(run_id)
        if run is None:  # not here: it paused here a moment ago, or its task is about to start
            now = asyncio.get_running_loop().time()
            paused = self._paused_here.get(run_id)
            # It waits now, or was answered since: cancel it through the store.
            if paused is not None and now - paused[1] < EARLY_CANCEL_SECONDS:
                chore = asyncio.create_task(self._cancel_later(paused[0], run_id))
                self._chores.add(chore)
                chore.add_done_callback(self._chores.discard)
                return
            self._early = {r: t for r, t in self._early.items() if now - t < EARLY_CANCEL_SECONDS}
            self._early[run_id] = now
            return
        if _flagged_while_pausing(run) or run.finishing or run.task is None:
            return
        if not run.started:  # cancelled before its first step, it would never end itself
            asyncio.get_running_loop().call_soon(self.cancel_here, run_id)
            return
        run.cancel_requested = True
        run.task.cancel()

    def lost(self, run_id: str) -> None:
        """Stop the task of a run of this node that the store no longer holds for it: a
        sweep ended it while this node could not renew its lease (it writes no second end).

        Not a cancel: a run storing its pause or its end is not lost, it just left
        ``running`` in the store between the lease keeper's two looks (a cancel there
        would end a run that now waits for a person).
        """
        run = self._runs.get(run_id)
        if run is None or run.pausing or run.finishing or run.task is None or not run.started:
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


EARLY_CANCEL_SECONDS = 10.0
"""How long a cancel another node sent for a run not (yet) here is kept for it."""

_CANCEL_LOOKS = 5
"""How often `RunService.cancel` looks at a run that moves on while it looks (each look
finds it further along: pausing, waiting, continued, ended)."""


def _flagged_while_pausing(run: _Run) -> bool:
    """Whether ``run`` is storing its pause, now with a cancel to carry out afterwards (its
    task must not be cancelled mid-pause; the cancel would be lost once it waits)."""
    if run.pausing and run.task is not None and not run.task.done():
        run.cancel_requested = True
        return True
    return False


def _context_of(
    run: RunRecord, request_id: str | None, audit: dict[str, Any] | None
) -> UserExecutionContext:
    """The context of a stored run continued (or ended) by a new request."""
    return UserExecutionContext(
        user_id=run.owner_id,
        thread_id=run.thread_id,
        run_id=run.run_id,
        request_id=request_id or new_id("req"),
        agent_context={"agent": run.agent},
        audit_metadata=audit or {},
    )


def _finished(run_id: str, status: str) -> ConflictError:
    return ConflictError(
        f"run {run_id!r} already finished with status {status!r}; "
        "only a running run can be cancelled"
    )
