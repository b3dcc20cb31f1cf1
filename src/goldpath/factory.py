"""The one place engines are made, and the process-wide factory accessor."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from goldpath.agents import AgentRegistry, builtin_agents
from goldpath.context import UserExecutionContext
from goldpath.engine import (
    RunLimits,
    RunObserver,
    UserExecutionEngine,
    can_pause,
    set_process_engines,
)
from goldpath.errors import ConfigurationError, TooManyRunsError
from goldpath.events import EventSinks
from goldpath.models import ChatModel, OfflineModel
from goldpath.tools import BUILTIN_TOOLS, ApprovalPolicy, Tool, tool_table

__all__ = [
    "ExecutionEngineFactory",
    "InProcessRunSlots",
    "RunSlots",
    "UserEngineSlot",
    "configure_execution_engine_factory",
    "create_request_scoped_engine",
    "get_execution_engine_factory",
]


class RunSlots(abc.ABC):
    """Where each user's runs in flight are counted, against ``max_runs_per_user``.

    `InProcessRunSlots` (the default) counts in this process; a cluster hands the factory
    an implementation that counts across every process (``goldpath.cluster``), so this
    layer knows no backend. Taking a slot is atomic in either.
    """

    @abc.abstractmethod
    async def take(self, context: UserExecutionContext, limit: int) -> None:
        """Hold one of the user's slots for ``context``'s run; `TooManyRunsError` when
        ``limit`` are taken already."""

    @abc.abstractmethod
    async def release(self, context: UserExecutionContext) -> None:
        """Give back the slot `take` held for ``context``'s run."""

    @abc.abstractmethod
    def in_flight(self, user_id: str) -> int:
        """How many of the user's slots runs of this process hold now."""


class InProcessRunSlots(RunSlots):
    """The user's slots counted in this process: one process is the whole deployment."""

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        self._taken: dict[str, int] = {}

    async def take(self, context: UserExecutionContext, limit: int) -> None:
        user_id = context.user_id
        taken = self._taken.get(user_id, 0)
        if taken >= limit:
            raise TooManyRunsError(user_id, limit)
        self._taken[user_id] = taken + 1

    async def release(self, context: UserExecutionContext) -> None:
        user_id = context.user_id
        left = self._taken[user_id] - 1
        if left:
            self._taken[user_id] = left
        else:
            del self._taken[user_id]

    def in_flight(self, user_id: str) -> int:
        return self._taken.get(user_id, 0)


class ExecutionEngineFactory:
    """Holds what every engine shares (streams, models, agents, tools, limits) and makes engines.

    ``model`` is the model of every agent that names none; ``models`` holds, by name, the
    models agents name (their ``model`` attribute, e.g. ``"openai:gpt-4o"``). An agent
    naming a model that is not there is a `ConfigurationError` here, at start-up.

    `user_execution_engine` is the golden path: it takes one of the user's run slots,
    wires the engine to that user's stream, and always gives the slot back.
    """

    __slots__ = (
        "_agent_models",
        "_agents",
        "_approval_policy",
        "_limits",
        "_model",
        "_observer",
        "_pausable",
        "_slots",
        "_streams",
        "_tools",
    )

    def __init__(
        self,
        *,
        streams: EventSinks,
        model: ChatModel | None = None,
        models: Mapping[str, ChatModel] | None = None,
        agents: AgentRegistry | None = None,
        tools: Iterable[Tool] = BUILTIN_TOOLS,
        limits: RunLimits | None = None,
        observer: RunObserver | None = None,
        slots: RunSlots | None = None,
        approval_policy: ApprovalPolicy | None = None,
    ) -> None:
        """``observer`` watches every run (the server's metrics and traces); None: nothing.
        ``slots`` counts the users' runs in flight (`InProcessRunSlots` by default).
        ``approval_policy`` decides per call whether a person must approve it, beside the
        tools that require approval themselves (docs/approvals.md)."""
        self._streams = streams
        self._model: ChatModel = model if model is not None else OfflineModel()
        self._agents = agents if agents is not None else builtin_agents()
        self._agents.freeze()
        self._agent_models = _agent_models(self._agents, models or {})
        self._tools = tool_table(tools)
        self._limits = limits if limits is not None else RunLimits()
        self._slots = slots if slots is not None else InProcessRunSlots()
        self._observer = observer
        self._approval_policy = approval_policy
        self._pausable = can_pause(self._tools, approval_policy)

    @property
    def limits(self) -> RunLimits:
        return self._limits

    @property
    def model(self) -> ChatModel:
        return self._model

    @property
    def agents(self) -> AgentRegistry:
        return self._agents

    @property
    def tools(self) -> Mapping[str, Tool]:
        return self._tools

    def runs_in_flight(self, user_id: str) -> int:
        """How many of the user's slots runs of this process hold now."""
        return self._slots.in_flight(user_id)

    def create_for_user(self, context: UserExecutionContext) -> UserExecutionEngine:
        """An engine for ``context``, wired to its user's stream; takes no run slot."""
        return UserExecutionEngine(
            context,
            sink=self._streams.for_user(context.user_id),
            model=self._model,
            agent_models=self._agent_models,
            agents=self._agents,
            tools=self._tools,
            limits=self._limits,
            observer=self._observer,
            approval_policy=self._approval_policy,
            pausable=self._pausable,
        )

    def user_execution_engine(self, context: UserExecutionContext) -> UserEngineSlot:
        """``async with factory.user_execution_engine(ctx) as engine:`` holds one user slot.

        Entering raises `TooManyRunsError` when the user already has the most runs in
        flight; leaving always gives the slot back.
        """
        return UserEngineSlot(self, context)


def _agent_models(
    agents: AgentRegistry, models: Mapping[str, ChatModel]
) -> Mapping[str, ChatModel]:
    """Each agent that names a model, by agent name, with that model."""
    chosen: dict[str, ChatModel] = {}
    for agent in agents.classes():
        if agent.model is None:
            continue
        found = models.get(agent.model)
        if found is None:
            given = ", ".join(sorted(models)) or "none"
            raise ConfigurationError(
                f"agent {agent.name!r} names the model {agent.model!r}, which the factory was "
                f"not given (models: {given}); pass it in models={{{agent.model!r}: ...}}"
            )
        chosen[agent.name] = found
    return MappingProxyType(chosen)


class UserEngineSlot:
    """One of a user's run slots, held for an ``async with`` block.

    A small class rather than ``@asynccontextmanager``: it is made for every run, and a
    generator-based one costs several times the memory.
    """

    __slots__ = ("_context", "_factory")

    def __init__(self, factory: ExecutionEngineFactory, context: UserExecutionContext) -> None:
        self._factory = factory
        self._context = context

    async def __aenter__(self) -> UserExecutionEngine:
        factory = self._factory
        await factory._slots.take(self._context, factory._limits.max_runs_per_user)
        return factory.create_for_user(self._context)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._factory._slots.release(self._context)


_factory: ExecutionEngineFactory | None = None


def configure_execution_engine_factory(factory: ExecutionEngineFactory | None) -> None:
    """Set (or, with None, clear) the process-wide factory; the server does this at start-up."""
    global _factory
    _factory = factory
    set_process_engines(factory.create_for_user if factory is not None else None)


def get_execution_engine_factory() -> ExecutionEngineFactory:
    """The process-wide factory; `ConfigurationError` until one is configured."""
    if _factory is None:
        raise ConfigurationError(
            "no execution engine factory is configured in this process; call "
            "goldpath.configure_execution_engine_factory(ExecutionEngineFactory(...)) at start-up"
        )
    return _factory


def create_request_scoped_engine(context: UserExecutionContext) -> UserExecutionEngine:
    """An engine for one request from the process-wide factory (takes no run slot)."""
    return get_execution_engine_factory().create_for_user(context)
