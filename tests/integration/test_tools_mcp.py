"""`goldpath.tools.mcp`: real MCP servers (the SDK's own, started by the tests) over stdio and
streamable HTTP, their tools run through the dispatcher like any tool."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
import pytest_asyncio

from goldpath import (
    Event,
    ExecutionEngineFactory,
    InMemoryStreamHub,
    RunLimits,
    ToolCompleted,
    UserExecutionContext,
)
from goldpath.errors import ConfigurationError, ToolError
from goldpath.models import ScriptedModel, TextDelta, ToolCall
from goldpath.tools import Tool
from goldpath.tools.mcp import MCPTools
from tests.helpers import history
from tests.mcp_server import SCRIPT, serving_http

# One event loop for the module, so each server is started once and shared by its tests;
# every wait in these tests is bounded, and the timeout makes a wait that is not a failure
# of this module instead of a suite that never ends.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(120),
]

PYTHON = sys.executable


def stdio(**kwargs: object) -> MCPTools:
    return MCPTools.stdio("test", PYTHON, [str(SCRIPT)], **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with serving_http() as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["stdio", "http"])
async def opened(
    request: pytest.FixtureRequest, http_url: str
) -> AsyncIterator[tuple[MCPTools, dict[str, Tool]]]:
    source = stdio() if request.param == "stdio" else MCPTools.http("test", http_url)
    tools = await source.open()
    try:
        yield source, {tool.name: tool for tool in tools}
    finally:
        await source.close()


def context(user: str = "usr_ada") -> UserExecutionContext:
    return UserExecutionContext.create(user, "thr_1")


async def test_tools_come_with_the_servers_schema(
    opened: tuple[MCPTools, dict[str, Tool]],
) -> None:
    _, tools = opened
    assert sorted(tools) == ["add", "fail", "slow", "whoami"]
    add = tools["add"]
    assert add.description == "Add two integers."
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["required"] == ["a", "b"]
    assert add.spec() == {
        "name": "add",
        "description": "Add two integers.",
        "parameters": add.parameters,
    }


async def test_calls_go_through_the_dispatcher(opened: tuple[MCPTools, dict[str, Tool]]) -> None:
    _, tools = opened
    model = ScriptedModel(
        [
            [
                ToolCall("c1", "add", {"a": 17, "b": 25}),
                ToolCall("c2", "fail", {}),
                ToolCall("c3", "add", {"a": "x"}),
            ],
            [TextDelta("done")],
        ]
    )
    hub = InMemoryStreamHub()
    factory = ExecutionEngineFactory(streams=hub, model=model, tools=tools.values())
    async with factory.user_execution_engine(context()) as engine:
        outcome = await engine.run("supervisor", "add them")
    assert outcome.status == "ok"
    events = await history(hub.for_user("usr_ada"))
    completed = {done.call_id: done for done in tool_completions(events)}
    assert (completed["c1"].ok, completed["c1"].result) == (True, "42")
    assert completed["c2"].ok is False
    assert completed["c2"].error == "ToolError: Error executing tool fail: the disk is full"
    assert completed["c3"].ok is False
    assert "validation error" in str(completed["c3"].error).lower()
    assert [e.type for e in events].count("tool_executing") == 3


async def test_a_slow_call_is_cut_by_the_tool_timeout(
    opened: tuple[MCPTools, dict[str, Tool]],
) -> None:
    _, tools = opened
    model = ScriptedModel([[ToolCall("c1", "slow", {"seconds": 30})], [TextDelta("ok")]])
    hub = InMemoryStreamHub()
    factory = ExecutionEngineFactory(
        streams=hub, model=model, tools=tools.values(), limits=RunLimits(tool_timeout=0.5)
    )
    async with factory.user_execution_engine(context()) as engine:
        outcome = await engine.run("supervisor", "wait")
    assert outcome.status == "ok"
    events = await history(hub.for_user("usr_ada"))
    [done] = tool_completions(events)
    assert (done.ok, done.error) == (False, "'slow' took longer than 0.5 s")
    # The session is still good for the next call.
    assert await tools["add"].invoke(context(), {"a": 1, "b": 2}) == "3"


async def test_one_session_is_shared_by_concurrent_calls(
    opened: tuple[MCPTools, dict[str, Tool]],
) -> None:
    _, tools = opened
    results = await asyncio.gather(
        *(tools["add"].invoke(context(f"usr_{i}"), {"a": i, "b": i}) for i in range(20))
    )
    assert results == [str(2 * i) for i in range(20)]


async def test_per_user_sessions_carry_each_users_own_credentials(http_url: str) -> None:
    def credentials(ctx: UserExecutionContext) -> dict[str, str]:
        return {"Authorization": f"Bearer token-of-{ctx.user_id}"}

    for source, expected in (
        (MCPTools.http("test", http_url, per_user=credentials), "Bearer token-of-{}"),
        (stdio(per_user=lambda ctx: {"MCP_USER": ctx.user_id}), "{}"),
    ):
        tools = {tool.name: tool for tool in await source.open()}
        try:
            users = ["usr_ann", "usr_bob"] * 3
            answers = await asyncio.gather(
                *(tools["whoami"].invoke(context(user), {}) for user in users)
            )
            assert answers == [expected.format(user) for user in users]
        finally:
            await source.close()


async def test_idle_user_sessions_beyond_the_most_are_closed_and_reopened() -> None:
    source = stdio(per_user=lambda ctx: {"MCP_USER": ctx.user_id}, max_user_sessions=2)
    tools = {tool.name: tool for tool in await source.open()}
    whoami = tools["whoami"]
    try:
        assert await whoami.invoke(context("usr_ann"), {}) == "usr_ann"
        assert await whoami.invoke(context("usr_bob"), {}) == "usr_bob"
        assert source.user_sessions == ["usr_ann", "usr_bob"]
        assert await whoami.invoke(context("usr_cy"), {}) == "usr_cy"
        assert source.user_sessions == ["usr_bob", "usr_cy"]  # ann's made room for cy's
        assert await whoami.invoke(context("usr_ann"), {}) == "usr_ann"  # and is reopened
        assert source.user_sessions == ["usr_cy", "usr_ann"]
    finally:
        await source.close()


async def test_the_shared_session_has_the_servers_own_credentials(http_url: str) -> None:
    source = MCPTools.http("test", http_url, headers={"Authorization": "Bearer service"})
    tools = {tool.name: tool for tool in await source.open()}
    try:
        assert await tools["whoami"].invoke(context("usr_a"), {}) == "Bearer service"
        assert await tools["whoami"].invoke(context("usr_b"), {}) == "Bearer service"
    finally:
        await source.close()


async def test_a_server_that_never_answers_fails_start_up_in_time() -> None:
    silent = MCPTools.stdio(
        "silent", PYTHON, ["-c", "import time; time.sleep(60)"], connect_timeout=1
    )
    with pytest.raises(ConfigurationError) as raised:
        async with asyncio.timeout(15):
            await silent.open()
    assert str(raised.value) == (
        "MCP server 'silent' did not answer within 1 s; check that it is running "
        "(at start-up, listing its tools)"
    )


async def test_a_server_that_is_not_there_fails_start_up() -> None:
    missing = MCPTools.http("missing", "http://127.0.0.1:9/mcp", connect_timeout=5)
    with pytest.raises(ConfigurationError) as raised:
        async with asyncio.timeout(15):
            await missing.open()
    message = str(raised.value)
    assert message.startswith("MCP server 'missing' could not be reached: ")
    assert message.endswith(" (at start-up, listing its tools)")


async def test_a_server_gone_after_start_up_is_an_error_result() -> None:
    with serving_http() as url:
        source = MCPTools.http("flaky", url, connect_timeout=2, call_timeout=2)
        tools = {tool.name: tool for tool in await source.open()}
        assert await tools["add"].invoke(context(), {"a": 1, "b": 1}) == "2"
    try:
        model = ScriptedModel([[ToolCall("c1", "add", {"a": 1, "b": 1})], [TextDelta("sorry")]])
        hub = InMemoryStreamHub()
        factory = ExecutionEngineFactory(streams=hub, model=model, tools=tools.values())
        async with asyncio.timeout(30), factory.user_execution_engine(context()) as engine:
            outcome = await engine.run("supervisor", "add")
        assert (outcome.status, outcome.text) == ("ok", "sorry")
        events = await history(hub.for_user("usr_ada"))
        [done] = tool_completions(events)
        assert done.ok is False
        # The transport's own words (addresses, errors) go to the log, not to the user.
        assert str(done.error) == (
            "ToolError: MCP server 'flaky' failed the call; the details are in the server's log"
        )
    finally:
        await source.close()


async def test_closed_sources_refuse_calls(http_url: str) -> None:
    source = MCPTools.http("test", http_url)
    tools = {tool.name: tool for tool in await source.open()}
    await source.close()
    with pytest.raises(ToolError, match="is not open"):
        await tools["add"].invoke(context(), {"a": 1, "b": 1})


def tool_completions(events: Sequence[Event]) -> list[ToolCompleted]:
    return [event.data for event in events if isinstance(event.data, ToolCompleted)]
