"""An agent: a plain class with a name and an async ``run``; a fresh instance per run."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

from goldpath.context import UserExecutionContext
from goldpath.events import Emitter
from goldpath.models import ChatModel, Message
from goldpath.tools import ToolDispatcher

__all__ = ["Agent"]


class Agent:
    """Subclass it, set ``name``, implement ``run``.

    The engine makes a new instance for every run, so anything an agent keeps on ``self``
    lives for one run and one user only. Everything a run may use arrives as arguments.

    ``description``, what users are told the agent does (``GET /agents``), is the class's
    own docstring unless the class sets it. ``model`` names the chat model the agent runs
    with (``offline``, ``openai`` or ``openai:<model name>``, as ``GOLDPATH_MODEL``); None,
    the default, is the deployment's model.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    model: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "description" not in cls.__dict__:
            cls.description = inspect.cleandoc(cls.__dict__.get("__doc__") or "")

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        """Answer ``message``; return the answer's text. Emit thinking and deltas on the way."""
        raise NotImplementedError
