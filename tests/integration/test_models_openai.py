"""`OpenAIChatModel` against a real local OpenAI-compatible server, alone and in a run."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from goldpath import ExecutionEngineFactory, InMemoryStreamHub, Replay, UserExecutionContext
from goldpath.errors import ModelError
from goldpath.models import (
    Message,
    ModelOutput,
    TextDelta,
    Thought,
    ToolCall,
    Usage,
    usage_mark,
    usage_since,
)
from goldpath.models.openai import OpenAIChatModel
from goldpath.tools import calculator
from tests.openai_server import (
    ChatStream,
    ErrorResponse,
    OpenAITestServer,
    chunk,
    forbid_remote_model_calls,
    text_stream,
    tool_call_stream,
)

pytestmark = pytest.mark.integration

CALCULATOR = calculator.spec()


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test of this module reaches the internet: only 127.0.0.1 may be called."""
    forbid_remote_model_calls(monkeypatch)


@pytest.fixture
async def server() -> AsyncIterator[OpenAITestServer]:
    async with OpenAITestServer() as running:
        yield running


@pytest.fixture
async def model(server: OpenAITestServer) -> AsyncIterator[OpenAIChatModel]:
    made = OpenAIChatModel(base_url=server.base_url, api_key="test", model="test-model")
    try:
        yield made
    finally:
        await made.close()


async def collect(
    model: OpenAIChatModel,
    messages: Sequence[Message] = (Message("user", "hi"),),
    tools: Sequence[Mapping[str, Any]] = (),
) -> list[ModelOutput]:
    return [output async for output in model.stream(messages, tools)]


async def test_text_arrives_as_deltas(server: OpenAITestServer, model: OpenAIChatModel) -> None:
    server.script(text_stream("Hel", "lo, ", "world."))

    assert await collect(model) == [TextDelta("Hel"), TextDelta("lo, "), TextDelta("world.")]
    [body] = server.chat_requests
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "tools" not in body
    assert server.requests[0].headers["authorization"] == "Bearer test"


async def test_the_usage_the_endpoint_reports_is_counted(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(
        text_stream("Hi.", usage=(12, 3)),
        tool_call_stream(("call_1", "calculator", '{"expression": "1+1"}'), usage=(20, 7)),
    )
    counting = usage_mark()
    assert await collect(model) == [TextDelta("Hi.")]
    assert usage_since(counting) == Usage(12, 3)
    counting = usage_mark()
    assert await collect(model, tools=[CALCULATOR]) == [
        ToolCall("call_1", "calculator", {"expression": "1+1"})
    ]
    assert usage_since(counting) == Usage(20, 7)


async def test_a_run_adds_up_the_usage_of_its_model_calls(server: OpenAITestServer) -> None:
    server.script(
        tool_call_stream(("call_calc", "calculator", '{"expression": "17 * 23"}'), usage=(50, 9)),
        text_stream("391.", usage=(70, 4)),
    )
    model = OpenAIChatModel(base_url=server.base_url, api_key="test", model="test-model")
    hub = InMemoryStreamHub()
    factory = ExecutionEngineFactory(streams=hub, model=model)
    context = UserExecutionContext.create("user-1", "thread-1")
    events = await hub.for_user("user-1").subscribe()
    try:
        async with factory.user_execution_engine(context) as engine:
            outcome = await engine.run("supervisor", "What is 17 * 23?")
    finally:
        await model.close()
    assert outcome.usage == Usage(120, 13)
    frames = []
    while events.pending():
        frames.append(json.loads((await events.get()).json))
    assert frames[-1]["data"]["usage"] == {"input_tokens": 120, "output_tokens": 13}


async def test_messages_and_tools_are_sent_in_the_api_shape(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(text_stream("391"))
    call = ToolCall("call_1", "calculator", {"expression": "17 * 23"})
    raw = ToolCall("call_2", "calculator", "{not json")
    conversation = [
        Message("system", "Be brief."),
        Message("user", "What is 17 * 23?"),
        Message("assistant", "", tool_calls=(call, raw)),
        Message("tool", "391", tool_call_id="call_1", name="calculator"),
        Message("tool", "error: bad arguments", tool_call_id="call_2", name="calculator"),
        Message("assistant", "17 * 23 = 391."),
    ]

    await collect(model, conversation, [CALCULATOR])

    [body] = server.chat_requests
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 17 * 23?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "17 * 23"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": "{not json"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "391"},
        {"role": "tool", "tool_call_id": "call_2", "content": "error: bad arguments"},
        {"role": "assistant", "content": "17 * 23 = 391."},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "calculator",
                "description": CALCULATOR["description"],
                "parameters": CALCULATOR["parameters"],
            },
        }
    ]


async def test_tool_calls_are_assembled_from_interleaved_fragments(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(
        tool_call_stream(
            ("call_a", "calculator", '{"expression": "17 * 23"}'),
            ("call_b", "clock", '{"timezone": "Europe/Paris"}'),
        )
    )

    assert await collect(model, tools=[CALCULATOR]) == [
        ToolCall("call_a", "calculator", {"expression": "17 * 23"}),
        ToolCall("call_b", "clock", {"timezone": "Europe/Paris"}),
    ]


async def test_unparsable_arguments_are_passed_on_raw(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(tool_call_stream(("call_a", "calculator", '{"expression": "17 *')))

    assert await collect(model, tools=[CALCULATOR]) == [
        ToolCall("call_a", "calculator", '{"expression": "17 *')
    ]


async def test_reasoning_becomes_one_thought_before_the_answer(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(
        ChatStream(
            (
                chunk({"role": "assistant", "reasoning_content": "Seventeen times "}),
                chunk({"reasoning_content": "twenty-three."}),
                chunk({"content": "391"}),
                chunk({}, "stop"),
            )
        )
    )

    assert await collect(model) == [Thought("Seventeen times twenty-three."), TextDelta("391")]


async def test_a_server_error_is_retried_by_the_client(
    server: OpenAITestServer, model: OpenAIChatModel
) -> None:
    server.script(
        ErrorResponse(500, "overloaded", headers={"retry-after-ms": "1"}), text_stream("ok")
    )

    assert await collect(model) == [TextDelta("ok")]
    assert len(server.chat_requests) == 2


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "check the API key"), (404, "check the model name"), (400, "refused the request")],
)
async def test_a_refusal_is_a_model_error_that_says_what_to_check(
    server: OpenAITestServer, model: OpenAIChatModel, status: int, hint: str
) -> None:
    server.script(ErrorResponse(status, "nope"))

    with pytest.raises(ModelError, match=hint) as raised:
        await collect(model)
    assert f"HTTP {status}: nope" in str(raised.value)
    assert server.base_url in str(raised.value)
    assert len(server.chat_requests) == 1  # no retry storm


@pytest.mark.parametrize(
    "cut",
    [
        text_stream("17 * 23 = ", finish_reason=None),
        ChatStream((chunk({"content": "3"}),), drop=True),
    ],
    ids=["ended-without-finish-reason", "connection-dropped"],
)
async def test_a_stream_cut_before_it_finished_is_a_model_error(
    server: OpenAITestServer, model: OpenAIChatModel, cut: ChatStream
) -> None:
    server.script(cut)

    with pytest.raises(ModelError, match="the model's stream stopped before it finished"):
        await collect(model)


async def test_an_unreachable_endpoint_is_a_model_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = OpenAIChatModel(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="test", model="m", max_retries=0
    )
    try:
        with pytest.raises(ModelError, match=r"cannot reach .* check the base URL"):
            await collect(model)
    finally:
        await model.close()


async def test_the_guard_fails_a_test_that_calls_a_remote_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = OpenAIChatModel(api_key="test", model="gpt-4o-mini", max_retries=0)
    try:
        with pytest.raises(pytest.fail.Exception, match=r"only 127\.0\.0\.1 is allowed"):
            await collect(model)
    finally:
        await model.close()


async def test_name_and_who_closes_the_client(server: OpenAITestServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
    lent = OpenAIChatModel(model="test-model", client=client)
    owned = OpenAIChatModel(model="test-model", base_url=server.base_url)

    assert lent.name == owned.name == "openai:test-model"
    await lent.close()
    assert not client.is_closed()
    await client.close()
    await owned.close()


def test_import_goldpath_does_not_import_openai() -> None:
    code = "import sys, goldpath; sys.exit('openai' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def test_the_supervisor_answers_through_the_openai_model(server: OpenAITestServer) -> None:
    server.script(
        tool_call_stream(("call_calc", "calculator", '{"expression": "17 * 23"}')),
        text_stream("17 * 23 ", "= ", "391."),
    )
    model = OpenAIChatModel(base_url=server.base_url, api_key="test", model="test-model")
    hub = InMemoryStreamHub()
    factory = ExecutionEngineFactory(streams=hub, model=model)
    context = UserExecutionContext.create("user-1", "thread-1")
    try:
        async with factory.user_execution_engine(context) as engine:
            outcome = await engine.run("supervisor", "What is 17 * 23?")
    finally:
        await model.close()

    stream = hub.for_user("user-1")
    replay = await stream.read_after(stream.epoch, 0)
    assert isinstance(replay, Replay)
    frames = [json.loads(event.json) for event in replay.events]
    assert [(f["type"], f["data"].get("tool")) for f in frames] == [
        ("agent_started", None),
        ("tool_executing", "calculator"),
        ("tool_completed", "calculator"),
        ("message_delta", None),
        ("message_delta", None),
        ("message_delta", None),
        ("agent_completed", None),
    ]
    assert frames[1]["data"]["args"] == {"expression": "17 * 23"}
    assert frames[2]["data"]["ok"] is True
    assert frames[2]["data"]["result"] == 391
    assert "".join(f["data"]["delta"] for f in frames[3:6]) == "17 * 23 = 391."
    assert frames[6]["data"]["status"] == "ok"
    assert outcome.text == "17 * 23 = 391."
    second = server.chat_requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert second[-1] == {"role": "tool", "tool_call_id": "call_calc", "content": "391"}


async def test_bad_arguments_reach_the_model_as_a_tool_error(server: OpenAITestServer) -> None:
    server.script(
        tool_call_stream(("call_bad", "calculator", "{oops")),
        text_stream("Sorry."),
    )
    model = OpenAIChatModel(base_url=server.base_url, api_key="test", model="test-model")
    factory = ExecutionEngineFactory(streams=InMemoryStreamHub(), model=model)
    try:
        async with factory.user_execution_engine(UserExecutionContext.create("u", "t")) as engine:
            outcome = await engine.run("supervisor", "What is 17 * 23?")
    finally:
        await model.close()

    assert outcome.status == "ok"
    tool_message = server.chat_requests[1]["messages"][-1]
    assert tool_message["tool_call_id"] == "call_bad"
    assert tool_message["content"].startswith("error:")
    assert "JSON object" in tool_message["content"]


DOCS = Path(__file__).parents[2] / "docs" / "models.md"
RUN_MAIN = "asyncio.run(main())"


def runnable_examples() -> list[str]:
    """The Python examples of docs/models.md that run whole (end with ``asyncio.run``)."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    return [block for block in blocks if block.rstrip().endswith(RUN_MAIN)]


async def run_example(source: str) -> None:
    """Run an example on the test's own event loop, where the test server lives."""
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(source.replace(RUN_MAIN, ""), str(DOCS), "exec"), namespace)
    await namespace["main"]()


async def test_the_docs_examples_run(
    server: OpenAITestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_example, own_model_example = runnable_examples()
    monkeypatch.setenv("GOLDPATH_OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("GOLDPATH_OPENAI_API_KEY", "test")
    monkeypatch.setenv("GOLDPATH_OPENAI_MODEL", "test-model")
    server.script(
        tool_call_stream(("call_1", "calculator", '{"expression": "17 * 23"}')),
        text_stream("391"),
    )

    await run_example(openai_example)
    await run_example(own_model_example)

    assert len(server.chat_requests) == 2
