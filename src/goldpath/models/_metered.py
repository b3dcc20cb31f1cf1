"""A run's view of its chat model: everything the model says, but its token counts, which
are added up for the run's ``agent_completed``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from goldpath.models._base import ChatModel, Message, ModelOutput, Usage

__all__ = ["MeteredModel"]


class MeteredModel:
    """Made by the engine for one run around the agent's model; agents see only this.

    `Usage` outputs are kept back and summed, so an agent's loop never meets them and
    every agent's usage is counted, whoever wrote it.
    """

    __slots__ = ("_input", "_model", "_output", "_reported")

    def __init__(self, model: ChatModel) -> None:
        self._model = model
        self._input = 0
        self._output = 0
        self._reported = False

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def usage(self) -> Usage | None:
        """The run's tokens so far; None while the model has reported none."""
        return Usage(self._input, self._output) if self._reported else None

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        async for output in self._model.stream(messages, tools):
            if type(output) is Usage:
                self._input += output.input_tokens
                self._output += output.output_tokens
                self._reported = True
            else:
                yield output
