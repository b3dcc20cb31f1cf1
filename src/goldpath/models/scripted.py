"""A chat model that follows a script: for tests, which need a deterministic model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from goldpath.errors import ModelError
from goldpath.models._base import (
    Message,
    ModelOutput,
    TextDelta,
    Thought,
    ToolCall,
    current_turn,
)
from goldpath.models._usage import Usage, report_usage

__all__ = ["Fail", "Pause", "ScriptStep", "ScriptedModel"]


@dataclass(frozen=True, slots=True)
class Fail:
    """The model stops mid-stream with a `ModelError` carrying ``message``."""

    message: str = "the scripted model failed"


@dataclass(frozen=True, slots=True)
class Pause:
    """The model waits ``seconds`` before its next output, as a slow network would."""

    seconds: float


ScriptStep: TypeAlias = TextDelta | Thought | ToolCall | Usage | Fail | Pause


class ScriptedModel:
    """Plays ``turns[n]`` on the n-th model call of a run.

    The turn is read from the conversation (assistant messages since the last user
    message), not from a counter, so one instance serves any number of concurrent runs.
    """

    def __init__(self, turns: Sequence[Sequence[ScriptStep]], *, name: str = "scripted") -> None:
        self._turns = tuple(tuple(turn) for turn in turns)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        turn = current_turn(messages)
        if turn >= len(self._turns):
            raise ModelError(
                f"the script has {len(self._turns)} turns and the run asked for turn {turn + 1}; "
                "add a final turn that answers with text"
            )
        for step in self._turns[turn]:
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Fail):
                raise ModelError(step.message)
            elif isinstance(step, Usage):
                report_usage(step.input_tokens, step.output_tokens)
            else:
                yield step
