"""langgraph's side: a minimal ReAct `StateGraph` and ``graph.astream(stream_mode="messages")``.

The graph is the one langgraph documents for a tool-calling agent: an ``agent`` node that
calls a chat model bound to the tools, a prebuilt `ToolNode`, and `tools_condition` between
them. The chat model is a `BaseChatModel` whose ``_astream`` yields the tool call chunk on
the first turn and the 20 answer chunks once a `ToolMessage` is in the conversation.
(``create_react_agent`` builds the same graph with more options; it is deprecated in
langgraph 1.x in favour of ``langchain.agents``, so the graph is written out here.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

NAME = "langgraph"
DISTRIBUTION = "langgraph"
IMPORT = "import langgraph.graph"


def _tool_result(messages: list[BaseMessage]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            return str(message.content)
    return None


class ScriptedChatModel(BaseChatModel):
    """Stateless: the turn is read from the messages, so one instance serves every run."""

    @property
    def _llm_type(self) -> str:
        return "bench-scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = _tool_result(messages)
        if result is None:
            call = {"name": "calculator", "args": {"expression": "17 * 23"}, "id": CALL_ID}
            message = AIMessage(content="", tool_calls=[call])
        else:
            message = AIMessage(content="".join(answer_tokens(result)))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        result = _tool_result(messages)
        if result is None:
            chunk = {"name": "calculator", "args": ARGUMENTS_JSON, "id": CALL_ID, "index": 0}
            yield ChatGenerationChunk(
                message=AIMessageChunk(content="", tool_call_chunks=[chunk])  # type: ignore[list-item]
            )
            return
        await GATE.wait()
        for token in answer_tokens(result):
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))


@tool
async def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "17 * 23"."""
    return str(calculate(expression))


def build(*, gated: bool, concurrency: int) -> tuple[RunOnce, Any]:
    """The run function; the graph is compiled once and shared by every run, as in a server."""
    model = ScriptedChatModel().bind_tools([calculator])

    async def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([calculator]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    graph = builder.compile()

    async def run_once(i: int) -> RunResult:
        pieces: list[str] = []
        events = 0
        tool_result: str | None = None
        inputs = {"messages": [("user", PROMPT)]}
        async for message, _metadata in graph.astream(inputs, stream_mode="messages"):
            events += 1
            if isinstance(message, AIMessageChunk) and isinstance(message.content, str):
                pieces.append(message.content)
            elif isinstance(message, ToolMessage):
                tool_result = str(message.content)
        return RunResult("".join(pieces), events, tool_result)

    return run_once, graph
