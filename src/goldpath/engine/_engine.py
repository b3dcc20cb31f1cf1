"""`UserExecutionEngine`: runs one agent for one user request, and always ends the run cleanly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Literal

from goldpath.agents import Agent, AgentRegistry
from goldpath.context import UserExecutionContext
from goldpath.engine._ending import NO_PAUSE, PAUSE_FAILED, can_pause, end_run, pause_run
from goldpath.engine._failures import failed
from goldpath.engine._legacy import legacy_parts
from goldpath.engine._outcome import (
    OnComplete,
    OnPause,
    RunLimits,
    RunObserver,
    RunOutcome,
)
from goldpath.engine._paused import PausedRun, ReplayModel, ReplaySink
from goldpath.errors import (
    UnknownAgentError,
)
from goldpath.events import (
    AgentStarted,
    ApprovalResolved,
    Emitter,
    EventSink,
    RunStatus,
)
from goldpath.models import ChatModel, Message, OfflineModel, Usage, usage_mark, usage_since
from goldpath.tools import (
    BUILTIN_TOOLS,
    ApprovalAnswer,
    ApprovalNeeded,
    ApprovalPolicy,
    ReplayError,
    RunApprovals,
    Tool,
    ToolDispatcher,
)

__all__ = ["UserExecutionEngine"]

_NO_MODELS: Mapping[str, ChatModel] = MappingProxyType({})


class UserExecutionEngine:
    """Runs agents for one `UserExecutionContext`. Made by `ExecutionEngineFactory` only.

    `run` emits ``agent_started`` first and exactly one ``agent_completed`` last, with status
    ``ok``, ``error``, ``timeout`` or ``cancelled``, whatever the agent, a tool or the model
    does. The engine holds no global state: everything it uses was handed to it.

    A run whose tool call needs a person's approval pauses instead: it stores what
    continues it (``on_pause``), sends ``approval_requested`` and returns, status
    ``waiting``. `resume` continues it with the answer, on any engine of the same user;
    `end_paused` ends it unanswered (its approval timed out, or it was cancelled).
    """

    __slots__ = (
        "_agent_models",
        "_agents",
        "_approval_policy",
        "_context",
        "_limits",
        "_model",
        "_observer",
        "_pausable",
        "_sink",
        "_tools",
    )

    def __init__(
        self,
        context: UserExecutionContext,
        *,
        sink: EventSink,
        model: ChatModel,
        agents: AgentRegistry,
        tools: Mapping[str, Tool],
        limits: RunLimits,
        agent_models: Mapping[str, ChatModel] = _NO_MODELS,
        observer: RunObserver | None = None,
        approval_policy: ApprovalPolicy | None = None,
        pausable: bool | None = None,
    ) -> None:
        """``approval_policy`` decides per call whether a person must approve it, beside
        the tools that always require approval. ``pausable`` says whether any call can
        need approval (the factory works it out once; None: worked out here)."""
        self._context = context
        self._approval_policy = approval_policy
        # Only a run that may pause records what it sees; the others pay nothing for it.
        self._pausable = pausable if pausable is not None else can_pause(tools, approval_policy)
        self._sink = sink
        self._model = model
        self._agent_models = agent_models
        self._agents = agents
        self._tools = tools
        self._limits = limits
        self._observer = observer

    @property
    def context(self) -> UserExecutionContext:
        return self._context

    @classmethod
    async def create_from_legacy(
        cls,
        registry: AgentRegistry,
        websocket_bridge: Emitter | None = None,
        user_context: UserExecutionContext | None = None,
    ) -> UserExecutionEngine:
        """An engine for code written against the legacy three-argument constructor.

        The bridge is the user's emitter; without one, the user's stream is taken from the
        process-wide factory, and without a context either, events go nowhere. New code
        should use ``factory.user_execution_engine(ctx)``.
        """
        return cls._for_legacy(registry, websocket_bridge, user_context)

    @classmethod
    def _for_legacy(
        cls,
        registry: AgentRegistry,
        websocket_bridge: Emitter | None,
        user_context: UserExecutionContext | None,
    ) -> UserExecutionEngine:
        """`create_from_legacy`, callable without awaiting (for `goldpath.compat`)."""
        context, sink, made = legacy_parts(websocket_bridge, user_context)
        return cls(
            context,
            sink=sink,
            model=made._model if made is not None else OfflineModel(),
            agent_models=made._agent_models if made is not None else _NO_MODELS,
            agents=registry,
            tools=made._tools if made is not None else {t.name: t for t in BUILTIN_TOOLS},
            limits=made._limits if made is not None else RunLimits(),
        )

    def emitter(self, agent: str) -> Emitter:
        """The emitter of this engine's run, speaking for ``agent``."""
        return Emitter(self._context, self._sink, agent)

    async def run(
        self,
        agent: Agent | str,
        message: str,
        *,
        history: Sequence[Message] = (),
        on_complete: OnComplete | None = None,
        on_pause: OnPause | None = None,
    ) -> RunOutcome:
        """Run ``agent`` (an instance or a registered name) on ``message``.

        Agent failures end the run with status ``error`` and are returned, not raised;
        cancellation is re-raised after ``agent_completed`` is sent, as asyncio expects.
        Raises `UnknownAgentError` before the run starts for an unknown name. Without
        ``on_pause``, a call that needs approval ends the run with status ``error``.
        """
        if isinstance(agent, str):
            if agent not in self._agents:
                raise UnknownAgentError(agent, self._agents.names())
            name = agent
        else:
            name = agent.name
        run = _Run(name, message, tuple(history), agent if isinstance(agent, Agent) else None)
        return await self._drive(run, on_complete, on_pause)

    async def resume(
        self,
        paused: PausedRun,
        answer: ApprovalAnswer,
        *,
        on_complete: OnComplete | None = None,
        on_pause: OnPause | None = None,
    ) -> RunOutcome:
        """Continue a paused run with its user's ``answer`` to the pending call.

        The agent runs again from its start on what the run saw before (nothing is asked or
        run twice, nothing sent twice) and goes on live from the answered call:
        ``approval_resolved``, then the call (approved) or a result saying it was rejected.
        It ends as `run` does, or pauses again at another call. No ``agent_started``.
        """
        if paused.agent not in self._agents:
            raise UnknownAgentError(paused.agent, self._agents.names())
        run = _Run(paused.agent, paused.message, paused.history, None, paused, answer)
        return await self._drive(run, on_complete, on_pause)

    async def end_paused(
        self,
        paused: PausedRun,
        status: Literal["timeout", "cancelled"],
        *,
        on_complete: OnComplete | None = None,
    ) -> RunOutcome:
        """End a paused run that will not be continued: nobody answered in time
        (``timeout``: its call is rejected ``by`` the time limit), or it was cancelled."""
        context = self._context
        emitter = self.emitter(paused.agent)
        watch = None if self._observer is None else self._observer.watch(context, paused.agent)
        if watch is not None:
            emitter = Emitter(context, watch.sink(self._sink), paused.agent)
        if status == "timeout":
            await emitter.emit(ApprovalResolved(paused.call_id, "reject", "timeout"))
            error = f"nobody approved the call of {paused.tool!r} in time"
        else:
            error = "the run was cancelled"
        outcome = RunOutcome(status, paused.elapsed_ms, error=error, usage=paused.usage)
        return await end_run(outcome, emitter, watch, on_complete, self._context)

    async def _drive(
        self, run: _Run, on_complete: OnComplete | None, on_pause: OnPause | None
    ) -> RunOutcome:
        """Run (or continue) one run and end it: `run` and `resume` are this."""
        context, limits = self._context, self._limits
        name, paused = run.agent, run.paused
        model = self._agent_models.get(name, self._model)
        watch = None if self._observer is None else self._observer.watch(context, name)
        sink = self._sink
        if watch is not None:
            sink = watch.sink(sink)
            model = watch.model(model)
        approvals: RunApprovals | None = None
        recording: ReplayModel | None = None
        if self._pausable or paused is not None:
            approvals = RunApprovals(
                self._approval_policy,
                list(paused.results) if paused is not None else None,
                (paused.call_id, run.answer) if paused is not None and run.answer else None,
            )
            if paused is not None:
                sink = ReplaySink(sink, approvals)
            model = recording = ReplayModel(
                model, approvals, paused.turns if paused is not None else ()
            )
        emitter = Emitter(context, sink, name)
        tools = ToolDispatcher(
            context,
            self._tools,
            emitter,
            max_calls=limits.max_tool_calls,
            timeout=limits.tool_timeout,
            approvals=approvals,
        )
        earlier_ms = paused.elapsed_ms if paused is not None else 0.0
        started = time.perf_counter()
        counted = usage_mark()  # the tokens model calls reported before this run
        deadline: asyncio.Timeout | None = None
        status: RunStatus = "error"
        text: str | None = None
        error: str | None = None
        needed: ApprovalNeeded | None = None
        try:
            # Inside the try: a stream whose append fails or is cancelled here still ends
            # the run with agent_completed and on_complete.
            if paused is None:
                await emitter.emit(AgentStarted(run.message))
            # Made inside the try: an agent whose __init__ raises ends its run as an error.
            instance = run.instance if run.instance is not None else self._agents.create(name)
            left = max(limits.run_timeout - earlier_ms / 1000, 0.001)
            async with asyncio.timeout(left) as deadline:
                text = await instance.run(
                    context,
                    run.message,
                    emitter=emitter,
                    tools=tools,
                    model=model,
                    history=run.history,
                )
            if approvals is not None and not approvals.answered:
                raise ReplayError("the run ended before it reached the call it paused at")
            status = "ok"
        except ApprovalNeeded as exc:
            needed = exc
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                status = "timeout"
                error = f"the run took longer than {limits.run_timeout:g} s and was stopped"
            else:
                error = failed(exc, context)
        except asyncio.CancelledError:
            status = "cancelled"
            error = "the run was cancelled"
            _end_replay(approvals)
            await end_run(
                self._outcome(status, started, earlier_ms, counted, run, text, error),
                emitter,
                watch,
                on_complete,
                context,
            )
            raise
        except Exception as exc:
            error = failed(exc, context)
        if needed is not None:
            assert approvals is not None  # only a run with approvals can need one
            assert recording is not None
            pause = PausedRun(
                agent=name,
                message=run.message,
                history=run.history,
                turns=tuple(tuple(turn) for turn in recording.turns),
                results=tuple(approvals.results),
                call_id=needed.call_id,
                tool=needed.tool,
                args=needed.arguments,
                elapsed_ms=round(earlier_ms + (time.perf_counter() - started) * 1000, 3),
                usage=_added(paused.usage if paused is not None else None, usage_since(counted)),
            )
            paused_outcome = await pause_run(pause, emitter, watch, on_pause, self._context)
            if paused_outcome is not None:
                return paused_outcome
            error = NO_PAUSE.format(tool=needed.tool) if on_pause is None else PAUSE_FAILED
        _end_replay(approvals)
        outcome = self._outcome(status, started, earlier_ms, counted, run, text, error)
        return await end_run(outcome, emitter, watch, on_complete, self._context)

    def _outcome(
        self,
        status: RunStatus,
        started: float,
        earlier_ms: float,
        counted: Usage | None,
        run: _Run,
        text: str | None,
        error: str | None,
    ) -> RunOutcome:
        earlier = run.paused.usage if run.paused is not None else None
        return RunOutcome(
            status=status,
            duration_ms=round(earlier_ms + (time.perf_counter() - started) * 1000, 3),
            text=text,
            error=error,
            usage=_added(earlier, usage_since(counted)),
        )


class _Run:
    """What one call of `_drive` runs: a new run, or a paused one with its answer."""

    __slots__ = ("agent", "answer", "history", "instance", "message", "paused")

    def __init__(
        self,
        agent: str,
        message: str,
        history: tuple[Message, ...],
        instance: Agent | None,
        paused: PausedRun | None = None,
        answer: ApprovalAnswer | None = None,
    ) -> None:
        self.agent = agent
        self.message = message
        self.history = history
        self.instance = instance
        self.paused = paused
        self.answer = answer


def _end_replay(approvals: RunApprovals | None) -> None:
    """A continued run that ends while it replays (it failed, or was cancelled) still
    sends its agent_completed: the sink stops holding events back."""
    if approvals is not None:
        approvals.replaying = False


def _added(earlier: Usage | None, now: Usage | None) -> Usage | None:
    if earlier is None or now is None:
        return now if earlier is None else earlier
    return Usage(earlier.input_tokens + now.input_tokens, earlier.output_tokens + now.output_tokens)
