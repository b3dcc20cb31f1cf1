"""``GET /agents``: the agents this server runs, for a client to offer a choice of them."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from goldpath.server._http import State, User, _errors

__all__ = ["AgentOut", "router"]

router = APIRouter()


class AgentOut(BaseModel):
    name: str
    description: str


@router.get("/agents", response_model=list[AgentOut], responses=_errors(401), tags=["agents"])
async def list_agents(user: User, state: State) -> list[AgentOut]:
    """The agents a chat may name, the default (the one a chat without ``agent`` runs) first;
    each description is the agent's docstring."""
    return [
        AgentOut(name=agent.name, description=agent.description)
        for agent in state.factory.agents.classes()
    ]
