"""pydantic-ai's side: a streaming `FunctionModel` and ``agent.run_stream_events``.

The stream function asks for the calculator on the first request and, once the tool's
return is in the conversation, streams the 20-token answer built from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from _peers_common import (
    ARGUMENTS_JSON,
    CALL_ID,
    GATE,
    PROMPT,
    RunOnce,
    RunResult,
    answer_tokens,
    calculate,
)
from pydantic_ai import Agent, AgentRunResultEvent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

NAME = "pydantic-ai"
DISTRIBUTION = "pydantic-ai-slim"
IMPORT = "import pydantic_ai"


def _tool_result(messages: list[ModelMessage]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart) and part.tool_name == "calculator":
                    return str(part.content)
    return None


async def _stream(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
    result = _tool_result(messages)
    if result is None:
        yield {0: DeltaToolCall(name="calculator", json_args=ARGUMENTS_JSON, tool_call_id=CALL_ID)}
        return
    await GATE.wait()
    for token in answer_tokens(result):
        yield token


async def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression such as "17 * 23"."""
    return calculate(expression)


def build(*, gated: bool, concurrency: int) -> tuple[RunOnce, Any]:
    """The run function; the agent is made once and shared by every run, as in a server."""
    agent = Agent(FunctionModel(stream_function=_stream), name="bench", tools=[calculator])

    async def run_once(i: int) -> RunResult:
        text: str | None = None
        events = 0
        async with agent.run_stream_events(PROMPT) as stream:
            async for event in stream:
                events += 1
                if isinstance(event, AgentRunResultEvent):
                    text = event.result.output
        return RunResult(text, events)

    return run_once, agent
