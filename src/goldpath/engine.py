"""The engine that runs one agent for one user request, and always ends the run cleanly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from goldpath.agents import Agent, AgentRegistry
from goldpath.context import UserExecutionContext
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
    Emitter,
    Event,
    EventData,
    EventSink,
    RunStatus,
)
from goldpath.models import ChatModel, Message, OfflineModel, Usage, usage_mark, usage_since
from goldpath.tools import BUILTIN_TOOLS, Tool, ToolDispatcher

__all__ = [
    "ProcessEngines",
    "RunLimits",
    "RunObserver",
    "RunOutcome",
    "RunWatch",
    "SilentSink",
    "UserExecutionEngine",
    "set_process_engines",
]

logger = logging.getLogger("goldpath.engine")

_NO_MODELS: Mapping[str, ChatModel] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RunLimits:
    """The limits every run is held to; the factory enforces ``max_runs_per_user``."""

    max_runs_per_user: int = 4
    run_timeout: float = 120.0
    max_tool_calls: int = 32
    tool_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_runs_per_user", "run_timeout", "max_tool_calls", "tool_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RunLimits.{name} must be positive, not {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended: what ``agent_completed`` said, for the caller to store."""

    status: RunStatus
    duration_ms: float
    text: str | None = None
    error: str | None = None
    usage: Usage | None = None
    """The tokens the run's model calls used, when the model reported them."""


class RunWatch(Protocol):
    """One run, as an observer (metrics, traces) sees it: made as the run starts, it may
    wrap what the run writes to and asks, and hears how the run ended."""

    def sink(self, sink: EventSink) -> EventSink:
        """The sink the run's events go through (``sink`` itself, or a wrapper of it)."""
        ...

    def model(self, model: ChatModel) -> ChatModel:
        """The model the run's agent asks (``model`` itself, or a wrapper of it)."""
        ...

    def finished(self, outcome: RunOutcome) -> None:
        """The run ended so; called once, just before ``agent_completed`` is sent."""
        ...


class RunObserver(Protocol):
    """What the server hands the factory at start-up to watch every run. Without one (the
    default) the engine does nothing more than run."""

    def watch(self, context: UserExecutionContext, agent: str) -> RunWatch: ...


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


OnComplete = Callable[[RunOutcome], Awaitable[None]]
"""Called with the outcome before ``agent_completed`` is sent, so the answer is stored first.

Raising `RunFinishedError` says the run was ended elsewhere (a sweep on another node found
its lease run out) and that ending wrote its ``agent_completed``: the engine writes none.
"""


class UserExecutionEngine:
    """Runs agents for one `UserExecutionContext`. Made by `ExecutionEngineFactory` only.

    `run` emits ``agent_started`` first and exactly one ``agent_completed`` last, with status
    ``ok``, ``error``, ``timeout`` or ``cancelled``, whatever the agent, a tool or the model
    does. The engine holds no global state: everything it uses was handed to it.
    """

    __slots__ = (
        "_agent_models",
        "_agents",
        "_context",
        "_limits",
        "_model",
        "_observer",
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
    ) -> None:
        self._context = context
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
    ) -> RunOutcome:
        """Run ``agent`` (an instance or a registered name) on ``message``.

        Agent failures end the run with status ``error`` and are returned, not raised;
        cancellation is re-raised after ``agent_completed`` is sent, as asyncio expects.
        Raises `UnknownAgentError` before the run starts for an unknown name.
        """
        context, limits, model = self._context, self._limits, self._model
        if isinstance(agent, str):
            if agent not in self._agents:
                raise UnknownAgentError(agent, self._agents.names())
            name = agent
        else:
            name = agent.name
        model = self._agent_models.get(name, model)
        watch = None if self._observer is None else self._observer.watch(context, name)
        if watch is None:
            emitter = self.emitter(name)
        else:
            emitter = Emitter(context, watch.sink(self._sink), name)
            model = watch.model(model)
        tools = ToolDispatcher(
            context,
            self._tools,
            emitter,
            max_calls=limits.max_tool_calls,
            timeout=limits.tool_timeout,
        )
        started = time.perf_counter()
        counted = usage_mark()  # the tokens model calls reported before this run
        deadline: asyncio.Timeout | None = None
        status: RunStatus = "error"
        text: str | None = None
        error: str | None = None
        try:
            # Inside the try: a stream whose append fails or is cancelled here still ends
            # the run with agent_completed and on_complete.
            await emitter.emit(AgentStarted(message))
            # Made inside the try: an agent whose __init__ raises ends its run as an error.
            instance = self._agents.create(agent) if isinstance(agent, str) else agent
            async with asyncio.timeout(limits.run_timeout) as deadline:
                text = await instance.run(
                    context,
                    message,
                    emitter=emitter,
                    tools=tools,
                    model=model,
                    history=history,
                )
            status = "ok"
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                status = "timeout"
                error = f"the run took longer than {limits.run_timeout:g} s and was stopped"
            else:
                error = _failed(exc, context)
        except asyncio.CancelledError:
            status = "cancelled"
            error = "the run was cancelled"
            raise
        except Exception as exc:
            error = _failed(exc, context)
        finally:
            outcome = RunOutcome(
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                text=text,
                error=error,
                usage=usage_since(counted),
            )
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
