"""The chat models a server runs with: ``GOLDPATH_MODEL``'s, and each one an agent names."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from contextlib import AsyncExitStack

from goldpath.agents import Agent
from goldpath.errors import ConfigurationError
from goldpath.models import MODEL_NAMES, ChatModel, OfflineModel, split_model_name
from goldpath.server._settings import Settings

__all__ = ["check_agent_models", "make_model", "open_models"]


def make_model(name: str, settings: Settings) -> ChatModel:
    """The model ``name`` (``offline``, ``openai``, ``openai:<model>``) stands for; the
    OpenAI client is imported only if one is made."""
    provider, model = split_model_name(name)
    if provider == "offline":
        return OfflineModel(delay_ms=settings.offline_delay_ms)
    from goldpath.models.openai import OpenAIChatModel

    return OpenAIChatModel(
        model=model or settings.openai_model,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
    )


def check_agent_models(agents: Iterable[type[Agent]]) -> None:
    """`ConfigurationError` for an agent naming a model goldpath does not know."""
    for agent in agents:
        if agent.model is not None:
            try:
                split_model_name(agent.model)
            except ConfigurationError:
                raise ConfigurationError(
                    f"agent {agent.name!r} names the model {agent.model!r}, which goldpath "
                    f"does not know; use {MODEL_NAMES}"
                ) from None


def open_models(
    settings: Settings,
    default: ChatModel | None,
    agents: Iterable[type[Agent]],
    stack: AsyncExitStack,
) -> tuple[ChatModel, dict[str, ChatModel]]:
    """The default model (``default``, else ``GOLDPATH_MODEL``'s) and, by name, the model of
    each name the agents use: one instance per name, shared by every run. The models made
    here are closed when ``stack`` is."""
    made: dict[str, ChatModel] = {}

    def model_named(name: str) -> ChatModel:
        found = made.get(name)
        if found is None:
            found = made[name] = make_model(name, settings)
            close = getattr(found, "aclose", None) or getattr(found, "close", None)
            if close is not None and inspect.iscoroutinefunction(close):
                stack.push_async_callback(close)
        return found

    chosen = default if default is not None else model_named(settings.model)
    named = {agent.model: model_named(agent.model) for agent in agents if agent.model is not None}
    return chosen, named
