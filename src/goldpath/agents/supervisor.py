"""The built-in `supervisor` agent: a tool-calling loop that streams its answer."""

from __future__ import annotations

from collections.abc import Sequence

from goldpath.agents._base import Agent
from goldpath.context import UserExecutionContext
from goldpath.events import AgentThinking, Emitter, MessageDelta
from goldpath.models import ChatModel, Message, TextDelta, Thought, ToolCall
from goldpath.tools import ToolDispatcher

__all__ = ["Supervisor"]

SYSTEM_PROMPT = (
    "You are goldpath's supervisor agent. Answer the user's message. Use a tool whenever it "
    "gives a more reliable answer than you could, and say plainly when you cannot help."
)


class Supervisor(Agent):
    """Answers directly or with tools (calculator, clock, and any registered).

    It asks the model, runs the tools it calls and feeds the results back, until it answers.
    """

    name = "supervisor"

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
        messages = [Message("system", SYSTEM_PROMPT), *history, Message("user", message)]
        specs = tools.specs()
        while True:  # ends when the model answers without tools, or at the tool-call limit
            pieces: list[str] = []
            calls: list[ToolCall] = []
            async for output in model.stream(messages, specs):
                if isinstance(output, TextDelta):
                    pieces.append(output.text)
                    await emitter.emit(MessageDelta(output.text))
                elif isinstance(output, ToolCall):
                    calls.append(output)
                elif isinstance(output, Thought):
                    await emitter.emit(AgentThinking(output.text))
            text = "".join(pieces)
            if not calls:
                return text
            messages.append(Message("assistant", text, tool_calls=tuple(calls)))
            for call in calls:
                result = await tools.call(call.id, call.name, call.arguments)
                messages.append(
                    Message("tool", result.for_model(), tool_call_id=call.id, name=call.name)
                )
