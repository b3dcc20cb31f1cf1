"""openai-agents' side: a custom `Model` and ``Runner.run_streamed(...).stream_events()``.

The model speaks the Responses stream format the SDK consumes: the function call on the
first turn and, once the tool's output is in the input, the answer as 20
``response.output_text.delta`` events. Events are built with ``model_construct`` (no
validation) so that the model itself costs as little as possible; tracing is disabled.
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
from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import TResponseStreamEvent
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

NAME = "openai-agents"
DISTRIBUTION = "openai-agents"
IMPORT = "import agents"


def _tool_output(items: str | list[Any]) -> str | None:
    if isinstance(items, str):
        return None
    for item in reversed(items):
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            return str(item["output"])
    return None


def _completed(output: list[Any], sequence: int) -> ResponseCompletedEvent:
    response = Response.model_construct(
        id="resp_bench",
        created_at=0,
        model="bench",
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status="completed",
        usage=None,
    )
    return ResponseCompletedEvent.model_construct(
        type="response.completed", response=response, sequence_number=sequence
    )


def _tool_turn() -> list[Any]:
    call = ResponseFunctionToolCall.model_construct(
        type="function_call",
        id="fc_bench",
        call_id=CALL_ID,
        name="calculator",
        arguments=ARGUMENTS_JSON,
        status="completed",
    )
    return [
        ResponseOutputItemAddedEvent.model_construct(
            type="response.output_item.added", item=call, output_index=0, sequence_number=0
        ),
        ResponseFunctionCallArgumentsDeltaEvent.model_construct(
            type="response.function_call_arguments.delta",
            item_id="fc_bench",
            output_index=0,
            delta=ARGUMENTS_JSON,
            sequence_number=1,
        ),
        ResponseFunctionCallArgumentsDoneEvent.model_construct(
            type="response.function_call_arguments.done",
            item_id="fc_bench",
            output_index=0,
            arguments=ARGUMENTS_JSON,
            name="calculator",
            sequence_number=2,
        ),
        ResponseOutputItemDoneEvent.model_construct(
            type="response.output_item.done", item=call, output_index=0, sequence_number=3
        ),
        _completed([call], 4),
    ]


def _text_events(tokens: list[str]) -> AsyncIterator[Any] | list[Any]:
    text = "".join(tokens)
    part = ResponseOutputText.model_construct(type="output_text", text=text, annotations=[])
    message = ResponseOutputMessage.model_construct(
        id="msg_bench", type="message", role="assistant", status="completed", content=[part]
    )
    where = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}
    events: list[Any] = [
        ResponseOutputItemAddedEvent.model_construct(
            type="response.output_item.added", item=message, output_index=0, sequence_number=0
        ),
        ResponseContentPartAddedEvent.model_construct(
            type="response.content_part.added", part=part, sequence_number=1, **where
        ),
    ]
    for token in tokens:
        events.append(
            ResponseTextDeltaEvent.model_construct(
                type="response.output_text.delta",
                delta=token,
                logprobs=[],
                sequence_number=len(events),
                **where,
            )
        )
    events.append(
        ResponseTextDoneEvent.model_construct(
            type="response.output_text.done",
            text=text,
            logprobs=[],
            sequence_number=len(events),
            **where,
        )
    )
    events.append(
        ResponseContentPartDoneEvent.model_construct(
            type="response.content_part.done", part=part, sequence_number=len(events), **where
        )
    )
    events.append(
        ResponseOutputItemDoneEvent.model_construct(
            type="response.output_item.done",
            item=message,
            output_index=0,
            sequence_number=len(events),
        )
    )
    events.append(_completed([message], len(events)))
    return events


class ScriptedResponsesModel(Model):
    """Stateless: the turn is read from the input, so one instance serves concurrent runs."""

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the benchmark only streams")

    async def stream_response(  # type: ignore[override]
        self,
        system_instructions: str | None,
        input: str | list[Any],
        *args: Any,
        **kwargs: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        result = _tool_output(input)
        if result is None:
            for event in _tool_turn():
                yield event
            return
        await GATE.wait()
        for event in _text_events(answer_tokens(result)):
            yield event


@function_tool
async def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "17 * 23"."""
    return str(calculate(expression))


def build(*, gated: bool, concurrency: int) -> tuple[RunOnce, Any]:
    """The run function; the agent is made once and shared by every run, as in a server."""
    set_tracing_disabled(True)
    agent = Agent(name="bench", model=ScriptedResponsesModel(), tools=[calculator])
    config = RunConfig(tracing_disabled=True)

    async def run_once(i: int) -> RunResult:
        result = Runner.run_streamed(agent, PROMPT, run_config=config)
        events = 0
        async for _event in result.stream_events():
            events += 1
        text = result.final_output if isinstance(result.final_output, str) else None
        return RunResult(text, events)

    return run_once, agent
