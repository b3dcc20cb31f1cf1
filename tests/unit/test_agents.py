"""agents/: the registry, and the supervisor's tool-calling loop against a scripted model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from tests.helpers import history, types_of

from goldpath.agents import Agent, AgentRegistry, Supervisor, builtin_agents
from goldpath.context import UserExecutionContext
from goldpath.errors import (
    AgentCreationError,
    ModelError,
    RegistryError,
    RegistryFrozenError,
    ToolCallLimitError,
    UnknownAgentError,
)
from goldpath.events import (
    AgentThinking,
    Emitter,
    Event,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
)
from goldpath.models import (
    ChatModel,
    Fail,
    Message,
    ModelOutput,
    ScriptedModel,
    ScriptStep,
    TextDelta,
    Thought,
    ToolCall,
)
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import BUILTIN_TOOLS, ToolDispatcher

pytestmark = pytest.mark.unit


class Echo(Agent):
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
        return message


class OtherEcho(Echo):
    name = "echo"


class Nameless(Agent):
    pass


# --- registry -------------------------------------------------------------------


def test_register_and_create() -> None:
    registry = AgentRegistry([Supervisor])
    assert registry.register(Echo) is Echo
    assert registry.names() == ["echo", "supervisor"]
    assert "echo" in registry
    assert "nobody" not in registry
    assert isinstance(registry.create("echo"), Echo)


def test_register_as_decorator() -> None:
    registry = AgentRegistry()

    @registry.register
    class Decorated(Echo):
        name = "decorated"

    assert registry.names() == ["decorated"]
    assert isinstance(registry.create("decorated"), Decorated)


def test_each_create_is_a_fresh_instance() -> None:
    registry = builtin_agents()
    first, second = registry.create("supervisor"), registry.create("supervisor")
    assert isinstance(first, Supervisor)
    assert first is not second


def test_duplicate_names_are_refused() -> None:
    registry = AgentRegistry([Echo])
    with pytest.raises(RegistryError, match=r"two agents are named 'echo' \(Echo and OtherEcho\)"):
        registry.register(OtherEcho)
    registry.register(Echo)  # the same class again is harmless
    assert isinstance(registry.create("echo"), Echo)


def test_an_agent_needs_a_name() -> None:
    with pytest.raises(RegistryError, match="needs a class attribute `name`"):
        AgentRegistry([Nameless])


def test_frozen_registry_refuses_registration() -> None:
    assert not AgentRegistry().frozen
    registry = AgentRegistry([Supervisor])
    registry.freeze()
    assert registry.frozen
    with pytest.raises(RegistryFrozenError, match="register agents at start-up"):
        registry.register(Echo)
    assert registry.names() == ["supervisor"]


def test_unknown_agent_lists_the_known_ones() -> None:
    registry = AgentRegistry([Supervisor, Echo])
    with pytest.raises(UnknownAgentError, match=r"'nope'; known agents: echo, supervisor") as e:
        registry.create("nope")
    assert e.value.name == "nope"


def test_only_agent_classes_can_be_registered() -> None:
    with pytest.raises(RegistryError) as raised:
        AgentRegistry([Echo()])  # type: ignore[list-item]
    assert str(raised.value).endswith(" is not an agent class; subclass goldpath.Agent")


def test_classes_in_registration_order_and_the_first_is_the_default() -> None:
    registry = AgentRegistry([Echo, Supervisor])
    assert registry.classes() == [Echo, Supervisor]
    assert registry.default == "echo"
    assert builtin_agents().default == "supervisor"
    with pytest.raises(RegistryError, match=r"^the agent registry is empty; register at least one"):
        AgentRegistry().default  # noqa: B018


def test_description_is_the_docstring_unless_set() -> None:
    class Documented(Echo):
        """Says back what it was told.

        Nothing more.
        """

        name = "documented"

    class Described(Documented):
        """Not this."""

        name = "described"
        description = "Given."

    class Undocumented(Documented):
        name = "undocumented"

    assert Documented.description == "Says back what it was told.\n\nNothing more."
    assert Described.description == "Given."
    assert Undocumented.description == ""  # its own docstring, not its parent's
    assert Supervisor.description.startswith("Answers directly or with tools")


def test_an_agent_whose_init_raises() -> None:
    class Unmakeable(Echo):
        name = "unmakeable"

        def __init__(self) -> None:
            raise KeyError("OPENAI_API_KEY")

    with pytest.raises(AgentCreationError) as raised:
        AgentRegistry([Unmakeable]).create("unmakeable")
    assert str(raised.value) == (
        "agent 'unmakeable' could not be created: KeyError: 'OPENAI_API_KEY'; "
        "fix its __init__ (an agent is made afresh for every run)"
    )
    assert raised.value.name == "unmakeable"


def test_builtin_agents_is_a_new_registry_each_time() -> None:
    first = builtin_agents()
    first.freeze()
    second = builtin_agents()
    assert not second.frozen
    assert second.names() == ["supervisor"]


async def test_base_agent_run_is_abstract() -> None:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    emitter = Emitter(ctx, hub.for_user("u1"), "base")
    tools = ToolDispatcher(ctx, {}, emitter, max_calls=1, timeout=1)
    with pytest.raises(NotImplementedError):
        await Agent().run(ctx, "hi", emitter=emitter, tools=tools, model=ScriptedModel([]))


# --- supervisor -----------------------------------------------------------------


async def _supervise(
    *turns: Sequence[ScriptStep], max_calls: int = 32, history_messages: Sequence[Message] = ()
) -> tuple[str, list[Event]]:
    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    stream = hub.for_user("u1")
    emitter = Emitter(ctx, stream, Supervisor.name)
    tools = ToolDispatcher(
        ctx, {t.name: t for t in BUILTIN_TOOLS}, emitter, max_calls=max_calls, timeout=5
    )
    text = await Supervisor().run(
        ctx,
        "question",
        emitter=emitter,
        tools=tools,
        model=ScriptedModel(turns),
        history=history_messages,
    )
    return text, await history(stream)


async def test_text_only() -> None:
    text, events = await _supervise([TextDelta("Hello"), TextDelta(" world")])
    assert text == "Hello world"
    assert types_of(events) == ["message_delta", "message_delta"]
    assert [e.data for e in events] == [MessageDelta("Hello"), MessageDelta(" world")]
    assert {e.agent for e in events} == {"supervisor"}


async def test_one_tool_call_then_text() -> None:
    text, events = await _supervise(
        [ToolCall("c1", "calculator", {"expression": "17*23"})], [TextDelta("391")]
    )
    assert text == "391"
    assert types_of(events) == ["tool_executing", "tool_completed", "message_delta"]
    completed = events[1].data
    assert isinstance(completed, ToolCompleted)
    assert (completed.call_id, completed.ok, completed.result) == ("c1", True, 391)


async def test_two_tool_calls_in_one_turn() -> None:
    text, events = await _supervise(
        [
            TextDelta("Let me see. "),
            ToolCall("c1", "calculator", {"expression": "2+2"}),
            ToolCall("c2", "clock", {"timezone": "Nowhere/Land"}),
        ],
        [TextDelta("done")],
    )
    assert text == "done"
    assert types_of(events) == [
        "message_delta",
        "tool_executing",
        "tool_completed",
        "tool_executing",
        "tool_completed",
        "message_delta",
    ]
    first, second = events[2].data, events[4].data
    assert isinstance(first, ToolCompleted)
    assert isinstance(second, ToolCompleted)
    assert (first.call_id, first.ok, first.result) == ("c1", True, 4)
    assert (second.call_id, second.ok) == ("c2", False)
    assert second.error is not None
    assert "unknown time zone" in second.error
    executing = events[3].data
    assert isinstance(executing, ToolExecuting)
    assert executing.args == {"timezone": "Nowhere/Land"}


async def test_the_model_sees_tool_results_and_history() -> None:
    seen: list[list[Message]] = []

    class Recording(ScriptedModel):
        def stream(
            self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
        ) -> AsyncIterator[ModelOutput]:
            seen.append(list(messages))
            return super().stream(messages, tools)

    hub = InMemoryStreamHub()
    ctx = UserExecutionContext.create("u1", "t1")
    emitter = Emitter(ctx, hub.for_user("u1"), "supervisor")
    tools = ToolDispatcher(ctx, {t.name: t for t in BUILTIN_TOOLS}, emitter, max_calls=5, timeout=5)
    model = Recording([[ToolCall("c1", "calculator", {"expression": "6*7"})], [TextDelta("42")]])
    earlier = [Message("user", "hi"), Message("assistant", "hello")]
    await Supervisor().run(ctx, "6*7?", emitter=emitter, tools=tools, model=model, history=earlier)
    assert len(seen) == 2
    assert seen[0][0].role == "system"
    assert seen[0][1:] == [*earlier, Message("user", "6*7?")]
    assistant, answer = seen[1][-2:]
    assert assistant.role == "assistant"
    assert assistant.tool_calls == (ToolCall("c1", "calculator", {"expression": "6*7"}),)
    assert answer == Message("tool", "42", tool_call_id="c1", name="calculator")


async def test_thoughts_become_agent_thinking() -> None:
    text, events = await _supervise([Thought("hmm"), TextDelta("ok")])
    assert text == "ok"
    assert [e.data for e in events] == [AgentThinking("hmm"), MessageDelta("ok")]


async def test_model_failure_propagates() -> None:
    with pytest.raises(ModelError, match="boom"):
        await _supervise([TextDelta("a"), Fail("boom")])


async def test_tool_call_limit_ends_the_loop() -> None:
    looping = [ToolCall("c", "calculator", {"expression": "1"})]
    with pytest.raises(ToolCallLimitError):
        await _supervise(looping, looping, looping, max_calls=2)
