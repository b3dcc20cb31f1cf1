"""Agents: the base class, the registry, and the built-in `supervisor`."""

from goldpath.agents._base import Agent
from goldpath.agents._registry import AgentRegistry
from goldpath.agents.supervisor import Supervisor

__all__ = ["Agent", "AgentRegistry", "Supervisor", "builtin_agents"]


def builtin_agents() -> AgentRegistry:
    """A new registry holding the agents every goldpath has."""
    return AgentRegistry([Supervisor])
