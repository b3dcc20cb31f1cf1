"""An agent: a plain class with a name and an async ``run``; a fresh instance per run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from goldpath.context import UserExecutionContext
from goldpath.events import Emitter
from goldpath.models import ChatModel, Message
from goldpath.tools import ToolDispatcher

__all__ = ["Agent"]


class Agent:
    """Subclass it, set ``name``, implement ``run``.

    The engine makes a new instance for every run, so anything an agent keeps on ``self``
    lives for one run and one user only. Everything a run may use arrives as arguments.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

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
