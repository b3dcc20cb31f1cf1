"""``create_app(agents=, tools=)``: a server running your own agents and tools, and
``GET /agents`` listing them; bad agents and tools are refused at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from goldpath import BUILTIN_TOOLS, Agent, AgentRegistry, Emitter, MessageDelta, tool
from goldpath.agents import Supervisor
from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, RegistryError, ToolDefinitionError
from goldpath.models import ChatModel, Message, ScriptedModel, TextDelta, ToolCall
from goldpath.server import create_app
from goldpath.tools import ToolDispatcher
from goldpath.tools.mcp import MCPTools
from tests.e2e.conftest import (
    Server,
    TestModel,
    events_of,
    make_settings,
    new_user,
    open_ws,
    running,
)
from tests.mcp_server import serving_http
from tests.openai_server import OpenAITestServer, text_stream

pytestmark = pytest.mark.e2e


@tool
async def shout(context: UserExecutionContext, text: str) -> str:
    """Repeat the text in capitals."""
    return text.upper()


class Echo(Agent):
    """Says back what it was told, in capitals, through the `shout` tool."""

    name = "echo"

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
        result = await tools.call("call_1", "shout", {"text": message})
        await emitter.emit(MessageDelta(result.for_model()))
        return result.for_model()


class Tools(Echo):
    """Names the tools it was given."""

    name = "tools"

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
        return ", ".join(spec["name"] for spec in tools.specs())


class Unmakeable(Echo):
    """Cannot even be made."""

    name = "unmakeable"

    def __init__(self) -> None:
        raise RuntimeError("no API key in the environment")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(tmp_path_factory.mktemp("goldpath"))
    agents = [Echo, Tools, Unmakeable]
    app = create_app(settings, agents=agents, tools=[shout], model=TestModel())
    with running(settings, app) as srv:
        yield srv


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as client:
        yield client


async def test_get_agents_lists_yours_with_their_docstrings(http: httpx.AsyncClient) -> None:
    assert (await http.get("/agents")).status_code == 401
    user = await new_user(http)
    response = await http.get("/agents", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "echo",
            "description": "Says back what it was told, in capitals, through the `shout` tool.",
        },
        {"name": "tools", "description": "Names the tools it was given."},
        {"name": "unmakeable", "description": "Cannot even be made."},
    ]


async def test_your_agents_run_with_your_tools(server: Server, http: httpx.AsyncClient) -> None:
    user = await new_user(http)
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        # No agent named: the first one given runs.
        accepted = await ws.chat("hello there")
        frames = events_of(await ws.run_to_end(accepted["run_id"]), accepted["run_id"])
        assert [f["type"] for f in frames] == [
            "agent_started",
            "tool_executing",
            "tool_completed",
            "message_delta",
            "agent_completed",
        ]
        assert {f["agent"] for f in frames} == {"echo"}
        assert frames[2]["data"]["result"] == "HELLO THERE"
        assert frames[-1]["data"]["result"] == {"text": "HELLO THERE"}
        # The tools given replace the built-in ones.
        accepted = await ws.chat("which tools?", agent="tools")
        frames = events_of(await ws.run_to_end(accepted["run_id"]), accepted["run_id"])
        assert frames[-1]["data"]["result"] == {"text": "shout"}
        await ws.send({"type": "chat", "message": "hi", "agent": "supervisor"})
        refused = await ws.recv()
        assert refused["type"] == "error"
        assert refused["code"] == "bad_request"
        assert refused["message"] == (
            "no agent is registered as 'supervisor'; known agents: echo, tools, unmakeable"
        )


async def test_an_agent_that_cannot_be_made_ends_its_run(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http)
    ws, _ = await open_ws(server, user)
    async with ws.connection:
        accepted = await ws.chat("hi", agent="unmakeable")
        frames = events_of(await ws.run_to_end(accepted["run_id"]), accepted["run_id"])
    assert [f["type"] for f in frames] == ["agent_started", "agent_completed"]
    assert frames[-1]["data"]["status"] == "error"
    run = (await http.get(f"/runs/{accepted['run_id']}", headers=user.headers)).json()
    assert (run["status"], run["agent"]) == ("error", "unmakeable")


async def test_an_agent_registry_and_the_builtin_tools_too(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    registry = AgentRegistry([Tools])
    app = create_app(settings, agents=registry, tools=[*BUILTIN_TOOLS, shout])
    with running(settings, app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            agents = await http.get("/agents", headers=user.headers)
            assert [agent["name"] for agent in agents.json()] == ["tools"]
        ws, _ = await open_ws(srv, user)
        async with ws.connection:
            accepted = await ws.chat("tools?")
            frames = await ws.run_to_end(accepted["run_id"])
    assert frames[-1]["data"]["result"] == {"text": "calculator, clock, shout"}


class Writer(Supervisor):
    """Writes, with the big model."""

    name = "writer"
    model = "openai:model-a"


class Triage(Supervisor):
    """Sorts, with the small model."""

    name = "triage"
    model = "openai:model-b"


async def test_agents_run_with_the_models_they_name(tmp_path: Path) -> None:
    async with OpenAITestServer(
        text_stream("Written.", usage=(11, 2)), text_stream("Sorted.", usage=(13, 3))
    ) as endpoint:
        settings = make_settings(tmp_path, openai_base_url=endpoint.base_url, openai_api_key="test")
        app = create_app(settings, agents=[Supervisor, Writer, Triage], model=TestModel())
        with running(settings, app) as srv:
            async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
                user = await new_user(http)
                ws, _ = await open_ws(srv, user)
                async with ws.connection:
                    ends = []
                    for agent in ("writer", "triage", "supervisor"):
                        accepted = await ws.chat("What is 2 + 2?", agent=agent)
                        ends.append((await ws.run_to_end(accepted["run_id"]))[-1])
                runs = [
                    (await http.get(f"/runs/{end['run_id']}", headers=user.headers)).json()
                    for end in ends
                ]
    assert [body["model"] for body in endpoint.chat_requests] == ["model-a", "model-b"]
    assert [end["data"]["result"]["text"] for end in ends[:2]] == ["Written.", "Sorted."]
    assert ends[0]["data"]["usage"] == {"input_tokens": 11, "output_tokens": 2}
    assert ends[1]["data"]["usage"] == {"input_tokens": 13, "output_tokens": 3}
    assert "usage" not in ends[2]["data"]  # the default model (offline) reports none
    assert "4" in ends[2]["data"]["result"]["text"]
    assert [run.get("usage") for run in runs] == [
        {"input_tokens": 11, "output_tokens": 2},
        {"input_tokens": 13, "output_tokens": 3},
        None,
    ]


async def test_an_mcp_servers_tools_are_served_like_any_tool(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    model = ScriptedModel([[ToolCall("c1", "add", {"a": 17, "b": 25})], [TextDelta("42")]])
    with serving_http() as url:
        mcp = MCPTools.http("arithmetic", url)
        app = create_app(settings, agents=[Supervisor], tools=[shout, mcp], model=model)
        with running(settings, app) as srv:
            async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
                user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat("17 + 25?")
                frames = events_of(await ws.run_to_end(accepted["run_id"]), accepted["run_id"])
    done = next(f for f in frames if f["type"] == "tool_completed")
    assert (done["data"]["tool"], done["data"]["ok"], done["data"]["result"]) == ("add", True, "42")
    assert frames[-1]["data"]["result"] == {"text": "42"}


def test_an_agent_naming_a_model_goldpath_does_not_know(tmp_path: Path) -> None:
    class Misnamed(Echo):
        name = "misnamed"
        model = "gpt-4o"

    with pytest.raises(ConfigurationError) as raised:
        create_app(make_settings(tmp_path), agents=[Echo, Misnamed])
    assert str(raised.value) == (
        "agent 'misnamed' names the model 'gpt-4o', which goldpath does not know; use "
        "offline, openai or openai:<model name>"
    )


def test_two_agents_with_one_name_are_refused(tmp_path: Path) -> None:
    class Impostor(Echo):
        name = "echo"

    with pytest.raises(RegistryError) as raised:
        create_app(make_settings(tmp_path), agents=[Echo, Impostor])
    assert str(raised.value) == (
        "two agents are named 'echo' (Echo and Impostor); give each agent its own name"
    )


def test_no_agents_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as raised:
        create_app(make_settings(tmp_path), agents=[])
    assert str(raised.value) == "the agent registry is empty; register at least one agent"


def test_a_function_that_is_not_a_tool_is_refused(tmp_path: Path) -> None:
    async def whisper(text: str) -> str:
        return text.lower()

    with pytest.raises(ToolDefinitionError) as raised:
        create_app(make_settings(tmp_path), tools=[shout, whisper])  # type: ignore[list-item]
    assert (
        str(raised.value) == "tools[1] is 'whisper', not a Tool; decorate the function with @tool"
    )
