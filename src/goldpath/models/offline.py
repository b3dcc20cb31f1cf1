"""The default chat model: deterministic, no network, honest about what it is.

It answers arithmetic with the calculator and the time with the clock, and otherwise says
plainly that it is the offline model, streaming its answer word by word.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from goldpath.models._base import (
    Message,
    ModelOutput,
    TextDelta,
    Thought,
    ToolCall,
    current_turn,
    last_user_text,
)

__all__ = ["OfflineModel"]

_ARITHMETIC = re.compile(
    r"[-+(]*\s*\d[\d.\s]*(?:\s*(?:\*\*|//|[-+*/%^×÷])\s*[-+(]*\s*[\d.]+[\s)]*)+"
)
_TIME = re.compile(r"\b(time|date|clock|today|now)\b", re.IGNORECASE)
_INTRO = (
    "I am goldpath's offline model: I run without a network and can only do arithmetic with "
    "the calculator and tell the time with the clock. Set GOLDPATH_MODEL to use a real model."
)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


def _words(text: str) -> list[TextDelta]:
    """The text as deltas of one word each, spaces kept, so streaming shows word by word."""
    return [TextDelta(piece) for piece in re.findall(r"\S+\s*", text)]


class OfflineModel:
    """Reads the last user message: a sum goes to `calculator`, a time question to `clock`."""

    @property
    def name(self) -> str:
        return "offline"

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        available = {spec["name"] for spec in tools}
        question = last_user_text(messages)
        turn = current_turn(messages)
        if turn == 0:
            expression = _ARITHMETIC.search(question)
            if expression and "calculator" in available:
                text = expression.group().strip()
                yield Thought(f"This is arithmetic; I will ask the calculator for {text}.")
                yield ToolCall(new_call_id(), "calculator", {"expression": text})
                return
            if _TIME.search(question) and "clock" in available:
                yield Thought("This asks for the time; I will read the clock.")
                yield ToolCall(new_call_id(), "clock", {})
                return
            for delta in _words(_INTRO):
                yield delta
            return
        tool_message = messages[-1]
        if tool_message.role != "tool":
            for delta in _words(_INTRO):
                yield delta
            return
        answer = tool_message.content
        if answer.startswith("error:"):
            text = (
                f"The {tool_message.name} could not answer: {answer.removeprefix('error:').strip()}"
            )
        elif tool_message.name == "calculator":
            expression = _ARITHMETIC.search(question)
            shown = expression.group().strip() if expression else "That"
            text = f"{shown} = {answer}."
        else:
            text = f"It is {answer}."
        for delta in _words(text):
            yield delta
