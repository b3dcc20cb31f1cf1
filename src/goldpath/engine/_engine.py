"""`UserExecutionEngine`: runs one agent for one user request, and always ends the run cleanly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal

from goldpath.agents import Agent, AgentRegistry
from goldpath.context import UserExecutionContext
from goldpath.engine._outcome import (
    OnComplete,
    OnPause,
    RunLimits,
    RunObserver,
    RunOutcome,
    RunWatch,
)
from goldpath.engine._paused import PausedRun, ReplayModel, ReplaySink
from goldpath.errors import (
    ConfigurationError,
    GoldpathError,
    LimitExceededError,
    ModelError,
    RunFinishedError,
    UnknownAgentError,
)
from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    ApprovalRequested,
    ApprovalResolved,
    Emitter,
    Event,
    EventData,
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

__all__ = [
    "ProcessEngines",
    "SilentSink",
    "UserExecutionEngine",
    "can_pause",
    "set_process_engines",
]

logger = logging.getLogger("goldpath.engine")

_NO_MODELS: Mapping[str, ChatModel] = MappingProxyType({})

ProcessEngines = Callable[[UserExecutionContext], "UserExecutionEngine"]
"""The process-wide factory's ``create_for_user``, which `create_from_legacy` borrows."""


class SilentSink:
    """A sink that numbers events and keeps none: the legacy anonymous bridge writes here."""

    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = 0

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        self._offset += 1
        return Event(self._offset, run_id, thread_id, agent, ts, data)


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
        """`create_from_legacy`, callable without awaiting (for `goldpath.compat`).

        Model, tools and limits come from the process-wide factory when one is configured,
        else the defaults.

        Raises `ConfigurationError` when the bridge belongs to another user than the context,
        which would write one user's run to another's stream.
        """
        if websocket_bridge is not None and user_context is not None:
            bridge_user = websocket_bridge.context.user_id
            if bridge_user != user_context.user_id:
                raise ConfigurationError(
                    f"the websocket bridge belongs to user {bridge_user!r} but the context to "
                    f"{user_context.user_id!r}; make the bridge for the context's user"
                )
        context = user_context
        if context is None:
            context = (
                websocket_bridge.context
                if websocket_bridge is not None
                else UserExecutionContext.create("anonymous", "legacy")
            )
        if user_context is not None and websocket_bridge is None and _process_engines is None:
            raise ConfigurationError(
                f"no websocket bridge was given for user {context.user_id!r} and no process-wide "
                "factory is configured to find the user's stream; call "
                "goldpath.configure_execution_engine_factory(...) at start-up, or pass the bridge"
            )
        # The process-wide factory's engine for this user carries its stream, model, tools
        # and limits; only the registry is the caller's.
        made = _process_engines(context) if _process_engines is not None else None
        sink: EventSink
        if websocket_bridge is not None:
            sink = websocket_bridge._sink  # the bridge is the user's emitter: same stream
        elif user_context is None or made is None:
            sink = SilentSink()
        else:
            sink = made._sink
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
        return await self._end(outcome, emitter, watch, on_complete)

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
                error = _failed(exc, context)
        except asyncio.CancelledError:
            status = "cancelled"
            error = "the run was cancelled"
            await self._end(
                self._outcome(status, started, earlier_ms, counted, run, text, error),
                emitter,
                watch,
                on_complete,
            )
            raise
        except Exception as exc:
            error = _failed(exc, context)
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
            paused_outcome = await self._pause(pause, emitter, watch, on_pause)
            if paused_outcome is not None:
                return paused_outcome
            error = _NO_PAUSE.format(tool=needed.tool) if on_pause is None else _PAUSE_FAILED
        outcome = self._outcome(status, started, earlier_ms, counted, run, text, error)
        return await self._end(outcome, emitter, watch, on_complete)

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

    async def _pause(
        self,
        pause: PausedRun,
        emitter: Emitter,
        watch: RunWatch | None,
        on_pause: OnPause | None,
    ) -> RunOutcome | None:
        """Store the paused run and ask for approval; None when it could not be stored
        (the run then ends ``error``). A run ended elsewhere meanwhile sends nothing."""
        context = self._context
        if on_pause is None:
            logger.error(_NO_PAUSE.format(tool=pause.tool), extra=context.log_fields())
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
                _describe(exc),
                exc_info=exc if not isinstance(exc, GoldpathError) else None,
                extra=context.log_fields(),
            )
            return None
        if watch is not None:
            _tell_finished(watch, outcome, context)
        await emitter.emit(ApprovalRequested(pause.call_id, pause.tool, pause.args))
        return outcome

    async def _end(
        self,
        outcome: RunOutcome,
        emitter: Emitter,
        watch: RunWatch | None,
        on_complete: OnComplete | None,
    ) -> RunOutcome:
        """Store the outcome (``on_complete``) and send the one ``agent_completed``."""
        context = self._context
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
            assert outcome.status != "waiting"  # only _pause makes a waiting outcome
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


def can_pause(tools: Mapping[str, Tool], policy: ApprovalPolicy | None) -> bool:
    """Whether a call of a run with these tools and this policy can wait for approval."""
    return policy is not None or any(t.requires_approval for t in tools.values())


_NO_PAUSE = (
    "the tool {tool!r} needs a person's approval, and this run cannot wait for one; run it "
    "through the goldpath server, which can (docs/approvals.md)"
)
_PAUSE_FAILED = "the run could not wait for approval; try again in a moment"


def _added(earlier: Usage | None, now: Usage | None) -> Usage | None:
    if earlier is None or now is None:
        return now if earlier is None else earlier
    return Usage(earlier.input_tokens + now.input_tokens, earlier.output_tokens + now.output_tokens)


_process_engines: ProcessEngines | None = None


def set_process_engines(engines: ProcessEngines | None) -> None:
    """Called by `configure_execution_engine_factory` only: part of the process-wide accessor
    (the engine sits below the factory, so the factory hands itself down)."""
    global _process_engines
    _process_engines = engines


def _describe(exc: BaseException) -> str:
    """An error as the operator sees it: goldpath's own messages as they are, others with
    their type."""
    if isinstance(exc, GoldpathError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _failed(exc: Exception, context: UserExecutionContext) -> str:
    """Log why the run failed, with its ids, and return what its user is told.

    The user reads ``agent_completed.error``: a limit of their run is theirs to act on and
    is told as it is; anything else (a model endpoint's address and status, a setting to
    fix, an exception's text) is the operator's, and stays in the log.
    """
    unexpected = not isinstance(exc, GoldpathError)
    logger.error(
        "run failed: %s",
        _describe(exc),
        exc_info=exc if unexpected else None,
        extra=context.log_fields(),
    )
    if isinstance(exc, LimitExceededError):
        return str(exc)
    if isinstance(exc, ModelError):
        return "the model could not answer; try again in a moment"
    return "the run failed because of an error in the server; try again in a moment"


def _tell_finished(watch: RunWatch, outcome: RunOutcome, context: UserExecutionContext) -> None:
    """An observer that fails is logged, never a reason for a run to end without its
    ``agent_completed``."""
    try:
        watch.finished(outcome)
    except Exception as exc:
        logger.error(
            "a run observer failed: %s", _describe(exc), exc_info=exc, extra=context.log_fields()
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
            _describe(exc),
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
