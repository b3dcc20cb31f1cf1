"""models/: the offline default model and the scripted model tests use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

import pytest

from goldpath.errors import ModelError
from goldpath.models import (
    Fail,
    Message,
    ModelOutput,
    OfflineModel,
    Pause,
    ScriptedModel,
    TextDelta,
    Thought,
    ToolCall,
)
from goldpath.models._base import current_turn, last_user_text
from goldpath.tools import BUILTIN_TOOLS

pytestmark = pytest.mark.unit

SPECS = [t.spec() for t in BUILTIN_TOOLS]
SYSTEM = Message("system", "be helpful")


async def _collect(
    model: OfflineModel | ScriptedModel, messages: Sequence[Message]
) -> list[ModelOutput]:
    return [output async for output in model.stream(messages, SPECS)]


def _text(outputs: Sequence[ModelOutput]) -> str:
    return "".join(o.text for o in outputs if isinstance(o, TextDelta))


def _after_tool(question: str, call: ToolCall, answer: str) -> list[Message]:
    return [
        SYSTEM,
        Message("user", question),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", answer, tool_call_id=call.id, name=call.name),
    ]


# --- offline --------------------------------------------------------------------


async def test_offline_arithmetic_asks_the_calculator_then_answers() -> None:
    model = OfflineModel()
    assert model.name == "offline"
    first = await _collect(model, [SYSTEM, Message("user", "What is 17 * 23?")])
    assert len(first) == 2
    assert isinstance(first[0], Thought)
    call = first[1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("calculator", {"expression": "17 * 23"})
    assert call.id.startswith("call_")
    second = await _collect(model, _after_tool("What is 17 * 23?", call, "391"))
    assert all(isinstance(o, TextDelta) for o in second)
    assert _text(second) == "17 * 23 = 391."


async def test_offline_call_ids_are_unique() -> None:
    model = OfflineModel()
    ids = set()
    for _ in range(20):
        outputs = await _collect(model, [Message("user", "2+2")])
        call = outputs[-1]
        assert isinstance(call, ToolCall)
        ids.add(call.id)
    assert len(ids) == 20


async def test_offline_time_asks_the_clock() -> None:
    model = OfflineModel()
    first = await _collect(model, [SYSTEM, Message("user", "What time is it?")])
    call = first[-1]
    assert isinstance(first[0], Thought)
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("clock", {})
    second = await _collect(
        model, _after_tool("What time is it?", call, "2026-01-01T00:00:00+00:00")
    )
    assert _text(second) == "It is 2026-01-01T00:00:00+00:00."


async def test_offline_otherwise_introduces_itself_word_by_word() -> None:
    outputs = await _collect(OfflineModel(), [SYSTEM, Message("user", "Hello there")])
    assert all(isinstance(o, TextDelta) for o in outputs)
    assert len(outputs) > 10
    pieces = [o.text for o in outputs if isinstance(o, TextDelta)]
    assert all(len(p.split()) == 1 for p in pieces)
    text = _text(outputs)
    assert text.startswith("I am goldpath's offline model")
    assert "GOLDPATH_MODEL" in text


async def test_offline_without_tools_introduces_itself() -> None:
    model = OfflineModel()
    outputs = [o async for o in model.stream([Message("user", "What is 2+2 at noon?")], [])]
    assert _text(outputs).startswith("I am goldpath's offline model")


async def test_offline_explains_a_tool_error() -> None:
    model = OfflineModel()
    call = ToolCall("call_1", "calculator", {"expression": "1/0"})
    outputs = await _collect(model, _after_tool("1/0", call, "error: ValueError: division by zero"))
    assert _text(outputs) == "The calculator could not answer: ValueError: division by zero"


async def test_offline_answer_shows_the_expression_the_calculator_was_asked() -> None:
    call = ToolCall("call_1", "calculator", {"expression": "2+2"})
    messages = [Message("user", "compute it"), Message("assistant", tool_calls=(call,))]
    messages.append(Message("tool", "4", tool_call_id="call_1", name="calculator"))
    assert _text(await _collect(OfflineModel(), messages)) == "2+2 = 4."
    messages[-1] = Message("tool", "4", tool_call_id="call_unknown", name="calculator")
    assert _text(await _collect(OfflineModel(), messages)) == "That = 4."


async def test_offline_later_turn_without_a_tool_answer_introduces_itself() -> None:
    messages = [Message("user", "2+2"), Message("assistant", "hm")]
    assert _text(await _collect(OfflineModel(), messages)).startswith("I am goldpath's")


# --- offline: the conversation ---------------------------------------------------


def _follow_up(previous_answer: str, question: str) -> list[Message]:
    return [
        SYSTEM,
        Message("user", "the earlier question"),
        Message("assistant", previous_answer),
        Message("user", question),
    ]


def _asked_calculator(outputs: Sequence[ModelOutput]) -> str:
    assert isinstance(outputs[0], Thought)
    call = outputs[-1]
    assert isinstance(call, ToolCall)
    assert call.name == "calculator"
    expression = call.arguments["expression"]
    assert isinstance(expression, str)
    return expression


async def test_offline_follow_up_goes_on_from_the_last_result() -> None:
    model = OfflineModel()
    messages = _follow_up("17 * 23 = 391.", "And that plus 9?")
    first = await _collect(model, messages)
    assert _asked_calculator(first) == "391 + 9"
    call = first[-1]
    assert isinstance(call, ToolCall)
    after = [*messages, Message("assistant", tool_calls=(call,))]
    after.append(Message("tool", "400", tool_call_id=call.id, name="calculator"))
    assert _text(await _collect(model, after)) == "391 + 9 = 400."


@pytest.mark.parametrize(
    ("previous", "question", "expression"),
    [
        ("17 * 23 = 391.", "What is the result times 2?", "391 * 2"),
        ("17 * 23 = 391.", "and THIS divided by 17", "391 / 17"),
        ("2 - 7 = -5.", "that to the power of 2", "(-5) ** 2"),
        ("1 / 4 = 0.25.", "it minus 1", "0.25 - 1"),
        (
            "10 ** 100 / 3 = 3.3333333333333335e+99.",
            "that mod 7",
            "(3.3333333333333335 * 10 ** 99) % 7",
        ),
        ("7 = 7.", "the previous answer modulo 4", "7 % 4"),
    ],
)
async def test_offline_reads_that_as_the_last_result(
    previous: str, question: str, expression: str
) -> None:
    outputs = await _collect(OfflineModel(), _follow_up(previous, question))
    assert _asked_calculator(outputs) == expression


@pytest.mark.parametrize(
    ("question", "expression"),
    [
        ("What is 17 times 23?", "17 * 23"),
        ("17 Multiplied  By 23, please", "17 * 23"),
        ("2 to the power of 10 minus 1", "2 ** 10 - 1"),
    ],
)
async def test_offline_operator_words_make_a_sum_without_history(
    question: str, expression: str
) -> None:
    outputs = await _collect(OfflineModel(), [SYSTEM, Message("user", question)])
    assert _asked_calculator(outputs) == expression


async def test_offline_a_sum_of_its_own_ignores_the_last_result() -> None:
    outputs = await _collect(OfflineModel(), _follow_up("1 + 1 = 2.", "Is it 5 plus 3?"))
    assert _asked_calculator(outputs) == "5 + 3"


@pytest.mark.parametrize(
    "messages",
    [
        [SYSTEM, Message("user", "And that plus 9?")],  # nothing earlier
        _follow_up("It is 2026-12-04T18:00:00+00:00.", "And that plus 9?"),  # no result
        [
            Message("user", "2+2"),
            Message("assistant", "2+2 = 4."),
            Message("user", "x"),
            Message("assistant", "I am goldpath's offline model"),
            Message("user", "that + 1"),
        ],
    ],
    ids=["empty", "not-a-result", "only-the-last-answer-counts"],
)
async def test_offline_says_when_there_is_no_result_to_go_on_from(
    messages: list[Message],
) -> None:
    outputs = await _collect(OfflineModel(), messages)
    assert all(isinstance(o, TextDelta) for o in outputs)
    assert _text(outputs).startswith("There is no earlier result in this conversation")


@pytest.mark.parametrize(
    "question",
    [
        "1" * 30_000 + "x",
        "1 " * 15_000 + "x",
        "(" * 30_000,
        "1." * 15_000 + "x",
        " " * 30_000 + "1",
        "1 " + ")" * 30_000,
    ],
    ids=["digits", "spaced-digits", "parens", "dots", "spaces", "closing-parens"],
)
def test_offline_reads_a_message_of_the_longest_length_at_once(question: str) -> None:
    # The model runs on the event loop: a message that made its sum pattern backtrack
    # (seconds to minutes for 30,000 characters) would stop every user's runs meanwhile.
    started = time.perf_counter()
    OfflineModel().answer([SYSTEM, Message("user", question)], SPECS)
    assert time.perf_counter() - started < 1.0


async def test_offline_a_time_question_after_a_result_reads_the_clock() -> None:
    outputs = await _collect(OfflineModel(), _follow_up("1 + 1 = 2.", "What time is it?"))
    call = outputs[-1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("clock", {})


async def test_offline_time_in_a_zone_asks_the_clock_for_it() -> None:
    question = "What time is it in America/New_York?"
    outputs = await _collect(OfflineModel(), [SYSTEM, Message("user", question)])
    call = outputs[-1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("clock", {"timezone": "America/New_York"})
    assert isinstance(outputs[0], Thought)
    assert "America/New_York" in outputs[0].text


async def test_offline_intro_says_what_it_can_do_in_markdown() -> None:
    text = _text(await _collect(OfflineModel(), [SYSTEM, Message("user", "Tell me a joke")]))
    assert "\n- **Arithmetic** with the `calculator`" in text
    assert "\n- **The time** with the `clock`" in text
    assert "`And that plus 9?`" in text


# --- offline: pacing ------------------------------------------------------------


def _drive_without_suspending(model: OfflineModel, messages: list[Message]) -> list[ModelOutput]:
    """Every output of the stream, failing if the stream ever waits for anything."""
    stream = model.stream(messages, SPECS)
    outputs: list[ModelOutput] = []
    while True:
        step = cast(Coroutine[Any, Any, ModelOutput], stream.__anext__())
        try:
            step.send(None)
        except StopIteration as done:
            outputs.append(done.value)
            continue
        except StopAsyncIteration:
            return outputs
        step.close()
        raise AssertionError("the stream waited although no delay was set")


def test_offline_without_a_delay_never_waits() -> None:
    messages = [SYSTEM, Message("user", "Hello")]
    outputs = _drive_without_suspending(OfflineModel(), messages)
    assert _text(outputs).startswith("I am goldpath's offline model")


async def test_offline_delay_paces_every_output() -> None:
    model = OfflineModel(delay_ms=5)
    messages = [SYSTEM, Message("user", "Hello")]
    loop = asyncio.get_running_loop()
    started = loop.time()
    outputs = await _collect(model, messages)
    elapsed = loop.time() - started
    assert _text(outputs) == _text(model.answer(messages, SPECS))
    assert elapsed >= 0.005 * len(outputs) * 0.9  # timers may fire a hair early, never late


def test_offline_refuses_a_negative_delay() -> None:
    with pytest.raises(ValueError, match="delay_ms must be 0 or more, not -1"):
        OfflineModel(delay_ms=-1)


def test_turn_counting() -> None:
    assert current_turn([]) == 0
    assert current_turn([SYSTEM, Message("user", "a")]) == 0
    history = [
        Message("user", "old"),
        Message("assistant", "x"),
        Message("user", "new"),
        Message("assistant", "y"),
        Message("tool", "z"),
        Message("assistant", "w"),
    ]
    assert current_turn(history) == 2
    assert last_user_text(history) == "new"
    assert last_user_text([SYSTEM]) == ""


# --- scripted -------------------------------------------------------------------


async def test_scripted_plays_turns_by_conversation_position() -> None:
    call = ToolCall("c1", "calculator", {"expression": "1+1"})
    model = ScriptedModel([[Thought("t"), call], [TextDelta("two")]], name="script")
    assert model.name == "script"
    first = await _collect(model, [Message("user", "q")])
    assert first == [Thought("t"), call]
    again = await _collect(model, [Message("user", "q")])
    assert again == first  # stateless: the same conversation gets the same turn
    second = await _collect(model, _after_tool("q", call, "2"))
    assert second == [TextDelta("two")]


async def test_scripted_serves_two_concurrent_runs() -> None:
    release = asyncio.Event()
    call = ToolCall("c1", "clock", {})
    model = ScriptedModel([[call], [TextDelta("a"), TextDelta("b")]])

    async def gated(messages: list[Message], holding: asyncio.Event) -> list[ModelOutput]:
        outputs: list[ModelOutput] = []
        async for output in model.stream(messages, SPECS):
            outputs.append(output)
            holding.set()
            await release.wait()
        return outputs

    holding = asyncio.Event(), asyncio.Event()
    one = asyncio.create_task(gated(_after_tool("q", call, "now"), holding[0]))
    two = asyncio.create_task(gated([Message("user", "q")], holding[1]))
    await holding[0].wait()
    await holding[1].wait()  # both streams are open on the one instance at once
    release.set()
    assert await one == [TextDelta("a"), TextDelta("b")]
    assert await two == [call]


async def test_scripted_fail_raises_mid_stream() -> None:
    model = ScriptedModel([[TextDelta("partial"), Fail("provider hung up")]])
    seen: list[ModelOutput] = []

    async def consume() -> None:
        async for output in model.stream([Message("user", "q")], SPECS):
            seen.append(output)

    with pytest.raises(ModelError, match="provider hung up"):
        await consume()
    assert seen == [TextDelta("partial")]


async def test_scripted_fail_has_a_default_message() -> None:
    with pytest.raises(ModelError, match="the scripted model failed"):
        await _collect(ScriptedModel([[Fail()]]), [Message("user", "q")])


async def test_scripted_pause_waits() -> None:
    model = ScriptedModel([[Pause(0.02), TextDelta("late")]])
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _collect(model, [Message("user", "q")]) == [TextDelta("late")]
    assert loop.time() - started >= 0.015


async def test_scripted_past_the_end_raises() -> None:
    model = ScriptedModel([[ToolCall("c1", "clock", {})]])
    messages = _after_tool("q", ToolCall("c1", "clock", {}), "now")
    with pytest.raises(ModelError, match="the script has 1 turns and the run asked for turn 2"):
        await _collect(model, messages)
    with pytest.raises(ModelError, match="add a final turn"):
        await _collect(ScriptedModel([]), [Message("user", "q")])
