"""What a chat model is to goldpath: messages and tool schemas in, a stream of outputs out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

__all__ = ["ChatModel", "Message", "ModelOutput", "TextDelta", "Thought", "ToolCall"]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Thought:
    """Something the model says it is considering; shown as ``agent_thinking``."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool; ``arguments`` is what it sent (normally a JSON object)."""

    id: str
    name: str
    arguments: Any


ModelOutput: TypeAlias = TextDelta | Thought | ToolCall


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation, in the shape chat-completion APIs share."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class ChatModel(Protocol):
    """A chat model. Implementations hold no per-run state: one instance serves every run."""

    @property
    def name(self) -> str: ...

    def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        """Answer the conversation: text deltas, thoughts and tool calls, in order.

        Raises `goldpath.errors.ModelError` (or lets the provider's error out) on failure,
        including a stream that stops before it is finished. A model that knows what the
        call cost calls `goldpath.models.report_usage` before its stream ends.
        """
        ...


def current_turn(messages: Sequence[Message]) -> int:
    """How many assistant turns came since the last user message: 0 for a fresh question."""
    turn = 0
    for message in reversed(messages):
        if message.role == "user":
            break
        if message.role == "assistant":
            turn += 1
    return turn


def last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""
