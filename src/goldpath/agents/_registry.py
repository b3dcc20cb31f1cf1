"""The agent registry: name to agent class, filled at start-up, read-only afterwards."""

from __future__ import annotations

from collections.abc import Iterable

from goldpath.agents._base import Agent
from goldpath.errors import (
    AgentCreationError,
    RegistryError,
    RegistryFrozenError,
    UnknownAgentError,
)

__all__ = ["AgentRegistry"]


class AgentRegistry:
    """Holds agent classes, never instances: `create` makes a fresh agent for each run."""

    __slots__ = ("_agents", "_frozen")

    def __init__(self, agents: Iterable[type[Agent]] = ()) -> None:
        self._agents: dict[str, type[Agent]] = {}
        self._frozen = False
        for agent in agents:
            self.register(agent)

    def register(self, agent: type[Agent]) -> type[Agent]:
        """Add an agent class; usable as a class decorator."""
        if self._frozen:
            raise RegistryFrozenError(
                f"cannot register {agent.__name__}: the agent registry is read-only once the "
                "factory is made; register agents at start-up, before creating the factory"
            )
        if not (isinstance(agent, type) and issubclass(agent, Agent)):
            raise RegistryError(f"{agent!r} is not an agent class; subclass goldpath.Agent")
        name = getattr(agent, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{agent.__name__} needs a class attribute `name`, a non-empty str")
        if name in self._agents and self._agents[name] is not agent:
            raise RegistryError(
                f"two agents are named {name!r} ({self._agents[name].__name__} and "
                f"{agent.__name__}); give each agent its own name"
            )
        self._agents[name] = agent
        return agent

    def freeze(self) -> None:
        """Make the registry read-only; the factory calls this when it is made."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def names(self) -> list[str]:
        return sorted(self._agents)

    def classes(self) -> list[type[Agent]]:
        """The registered agent classes, in the order they were registered."""
        return list(self._agents.values())

    @property
    def default(self) -> str:
        """The agent a chat runs when it names none: the first one registered.

        `RegistryError` when the registry is empty.
        """
        for name in self._agents:
            return name
        raise RegistryError("the agent registry is empty; register at least one agent")

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def create(self, name: str) -> Agent:
        """A new instance of the agent registered as ``name``.

        Raises `UnknownAgentError` for a name nobody registered, and `AgentCreationError`
        when the agent's ``__init__`` raises.
        """
        found = self._agents.get(name)
        if found is None:
            raise UnknownAgentError(name, self.names())
        try:
            return found()
        except Exception as exc:
            raise AgentCreationError(name, exc) from exc
