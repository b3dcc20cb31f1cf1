"""The default chat model: deterministic, no network, honest about what it is.

It answers arithmetic with the calculator and the time with the clock, reads the
conversation so that "And that plus 9?" goes on from the last result, deletes and lists
notes when the notes demo's tools are offered ("Delete the note groceries": a call that
waits for approval), and otherwise says plainly what it can do. Its answers stream word
by word, optionally paced so that a person can watch them arrive (and cancel them).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from goldpath.models._base import (
    Message,
    ModelOutput,
    TextDelta,
    Thought,
    ToolCall,
    current_turn,
    last_user_text,
)

__all__ = ["OfflineModel"]

# A sum: operands (signs and "(" before, ")" after) joined by operators. Linear in the
# question's length: a match starts only where a run of signs or digits starts, and no
# part gives back what it took (possessive), so no message can make it backtrack.
_ARITHMETIC = re.compile(
    r"(?<![-+(\d.])(?:[-+(]++\s*+)?\d[\d.]*+[\s)]*+"
    r"(?:(?:\*\*|//|[-+*/%^×÷])[-+(\s]*+[\d.]++[\s)]*+)++"
)
_OPERATORS = {
    "times": "*",
    "multiplied by": "*",
    "divided by": "/",
    "plus": "+",
    "minus": "-",
    "to the power of": "**",
    "mod": "%",
    "modulo": "%",
}
_OPERATOR_WORD = re.compile(
    r"\b(times|multiplied\s+by|divided\s+by|plus|minus|to\s+the\s+power\s+of|modulo|mod)\b",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"\b(?:that|this|it|the (?:last |previous )?(?:result|answer))\b", re.IGNORECASE
)
# The number an earlier answer ended with after "=", as this model writes its results.
_RESULT = re.compile(r"=\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\.?\s*$")
_TIME = re.compile(r"\b(time|date|clock|today|now)\b", re.IGNORECASE)
_ZONE = re.compile(r"\b(UTC|[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_+-]*)+)\b")
_SKILLS = (
    "- **Arithmetic** with the `calculator`: ask `What is 17 * 23?`, then `And that plus 9?`\n"
    "- **The time** with the `clock`: ask `What time is it?` or "
    "`What time is it in Europe/Paris?`\n"
)
_NOTES_SKILL = (
    "- **Notes** (a demo of approvals): ask `What notes do I have?`, then "
    "`Delete the note groceries`; you approve or reject the deletion first.\n"
)
_OUTRO = "\nFor anything else, set `GOLDPATH_MODEL=openai` to use a real model."
_INTRO = (
    "I am goldpath's offline model: I run without a network, so I can do only two things.\n\n"
    + _SKILLS
    + _OUTRO
)
_INTRO_NOTES = (
    "I am goldpath's offline model: I run without a network, so I can do only three things."
    "\n\n" + _SKILLS + _NOTES_SKILL + _OUTRO
)
# "Delete the note groceries", "delete my note called 'X'", "remove the groceries note".
# Each part is bounded, so no message can make these backtrack far.
_DELETE = re.compile(r"\b(?:delete|remove|erase)\b[^\n]{0,100}?\bnotes?\b", re.IGNORECASE)
_NOTE_AFTER = re.compile(
    r"\b(?:delete|remove|erase)\s+(?:(?:the|my|a)\s+)?note\s+"
    r"(?:(?:called|named|titled)\s+)?(?P<title>[^\n]{1,100})",
    re.IGNORECASE,
)
_NOTE_BEFORE = re.compile(
    r"\b(?:delete|remove|erase)\s+(?:(?:the|my)\s+)?(?P<title>[^\n]{1,60}?)\s+note\b",
    re.IGNORECASE,
)
_NOT_TITLES = frozenset({"the", "my", "a", "this", "that", "it"})
_LIST_NOTES = re.compile(r"\b(?:list|show|what|which|read)\b[^\n]{0,40}?\bnotes\b", re.IGNORECASE)
_REJECTED = "the user rejected this call"
_NO_TITLE = "Which note should I delete? Say, for example, `Delete the note groceries`."
_NO_RESULT = (
    "There is no earlier result in this conversation for me to go on from. "
    "Ask me a sum first, such as `What is 17 * 23?`, then `And that plus 9?`"
)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


def _words(text: str) -> list[ModelOutput]:
    """The text as deltas of one word each, spaces kept, so streaming shows word by word."""
    return [TextDelta(piece) for piece in re.findall(r"\S+\s*", text)]


def previous_result(history: Sequence[Message]) -> str | None:
    """The result the last answer gave (``17 * 23 = 391.`` gives ``391``), if it gave one.

    Only the most recent answer counts: "that" means what was said last.
    """
    for message in reversed(history):
        if message.role == "assistant" and message.content:
            found = _RESULT.search(message.content)
            return found.group(1) if found else None
    return None


def _symbols(question: str) -> str:
    """The question with "plus", "times", "divided by", ... written as operators."""
    return _OPERATOR_WORD.sub(lambda word: _OPERATORS[" ".join(word[1].lower().split())], question)


def _as_operand(number: str) -> str:
    """A result as the calculator reads it back: ``(-5)``, ``(3.3 * 10 ** 19)``."""
    mantissa, _, exponent = number.lower().partition("e")
    if exponent:
        return f"({mantissa} * 10 ** {int(exponent)})"
    return f"({number})" if number.startswith("-") else number


class OfflineModel:
    """Answers from the conversation alone: sums go to `calculator`, time questions to `clock`.

    ``delay_ms`` waits that long before each output (every word of the answer, every
    thought and tool call), so that streaming can be watched; 0, the default, never waits.
    """

    __slots__ = ("_delay",)

    def __init__(self, *, delay_ms: float = 0) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be 0 or more, not {delay_ms}")
        self._delay = delay_ms / 1000

    @property
    def name(self) -> str:
        return "offline"

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        for output in self.answer(messages, tools):
            if self._delay:
                await asyncio.sleep(self._delay)
            yield output

    def answer(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> list[ModelOutput]:
        """Everything `stream` yields for this conversation, at once and unpaced."""
        if current_turn(messages) == 0:
            return _ask(messages, {spec["name"] for spec in tools})
        if messages[-1].role == "tool":
            return _words(_report(messages))
        return _words(_intro({spec["name"] for spec in tools}))


def _ask(messages: Sequence[Message], tools: set[str]) -> list[ModelOutput]:
    """The first turn: call a tool for the question, or say what this model can do."""
    question = last_user_text(messages)
    if "delete_note" in tools and _DELETE.search(question):
        title = note_title(question)
        if title is None:
            return _words(_NO_TITLE)
        return [
            Thought(f"You asked me to delete the note '{title}'; I will call delete_note."),
            ToolCall(new_call_id(), "delete_note", {"title": title}),
        ]
    if "list_notes" in tools and _LIST_NOTES.search(question):
        return [
            Thought("This asks for your notes; I will list them."),
            ToolCall(new_call_id(), "list_notes", {}),
        ]
    if "calculator" in tools:
        text = _symbols(question)
        found = _ARITHMETIC.search(text)
        # A question that is a sum once "that" is a number goes on from the last result.
        if found is None and _ARITHMETIC.search(_REFERENCE.sub("1", text)):
            result = previous_result(messages[:-1])
            if result is None:
                return _words(_NO_RESULT)
            found = _ARITHMETIC.search(_REFERENCE.sub(_as_operand(result), text))
        if found is not None:
            expression = found.group().strip()
            return [
                Thought(f"This is arithmetic; I will ask the calculator for {expression}."),
                ToolCall(new_call_id(), "calculator", {"expression": expression}),
            ]
    if _TIME.search(question) and "clock" in tools:
        zone = _ZONE.search(question)
        if zone is None:
            return [
                Thought("This asks for the time; I will read the clock."),
                ToolCall(new_call_id(), "clock", {}),
            ]
        return [
            Thought(f"This asks for the time in {zone.group()}; I will read the clock."),
            ToolCall(new_call_id(), "clock", {"timezone": zone.group()}),
        ]
    return _words(_intro(tools))


def _report(messages: Sequence[Message]) -> str:
    """The answer once a tool has answered: the tool message is the last one."""
    tool_message = messages[-1]
    answer = tool_message.content
    if tool_message.name == "delete_note":
        return _deleted(answer, _asked_for(messages, tool_message.tool_call_id, "title"))
    if tool_message.name == "list_notes":
        return _listed(answer)
    if answer.startswith("error:"):
        reason = answer.removeprefix("error:").strip()
        return f"The {tool_message.name} could not answer: {reason}"
    if tool_message.name == "calculator":
        return f"{_asked(messages, tool_message.tool_call_id)} = {answer}."
    return f"It is {answer}."


def _asked(messages: Sequence[Message], call_id: str | None) -> str:
    """The expression the calculator was asked for, from the call the tool message answers."""
    return _asked_for(messages, call_id, "expression") or "That"


def _asked_for(messages: Sequence[Message], call_id: str | None, argument: str) -> str | None:
    """One argument of the call the tool message answers, as the model made it."""
    for message in reversed(messages):
        for call in message.tool_calls:
            if call.id == call_id and isinstance(call.arguments, Mapping):
                value = call.arguments.get(argument)
                return None if value is None else str(value)
    return None


def _intro(tools: set[str]) -> str:
    return _INTRO_NOTES if "delete_note" in tools else _INTRO


def note_title(question: str) -> str | None:
    """The title of the note a request to delete one names, if it names one.

    ``Delete the note groceries.`` and ``remove my note called 'reading list'`` and
    ``delete the groceries note`` give ``groceries``, ``reading list``, ``groceries``.
    """
    for pattern in (_NOTE_AFTER, _NOTE_BEFORE):
        found = pattern.search(question)
        if found is None:
            continue
        title = found.group("title").strip()
        title = re.sub(r"(?:,?\s+please)?[\s.!?]*$", "", title, flags=re.IGNORECASE)
        title = title.strip(" '\"`‘’“”")
        if title and title.casefold() not in _NOT_TITLES:
            return title
    return None


def _deleted(answer: str, asked: str | None) -> str:
    """The answer to a ``delete_note`` result: what was deleted, or plainly why not."""
    title = f"the note '{asked}'" if asked else "the note"
    if answer.startswith("error:"):
        reason = answer.removeprefix("error:").strip()
        if reason.startswith(_REJECTED):
            why = reason.removeprefix(_REJECTED).lstrip(":").strip()
            said = f" You said: {why}" if why else ""
            return f"I did not delete {title}, because you rejected it.{said}"
        return f"I could not delete {title}: {reason}"
    result = _json(answer)
    if isinstance(result, Mapping) and isinstance(result.get("deleted"), str):
        title = f"the note '{result['deleted']}'"
        left = result.get("notes_left")
        if isinstance(left, list):
            return f"Deleted {title}. {_notes(left, 'Your notes now', 'You have no notes left.')}"
    return f"Deleted {title}."


def _listed(answer: str) -> str:
    """The answer to a ``list_notes`` result."""
    if answer.startswith("error:"):
        return f"I could not list your notes: {answer.removeprefix('error:').strip()}"
    result = _json(answer)
    if isinstance(result, list):
        return _notes(result, "Your notes", "You have no notes.")
    return f"Your notes: {answer}"


def _notes(titles: list[Any], heading: str, none: str) -> str:
    if not titles:
        return none
    return f"{heading}: " + ", ".join(f"'{title}'" for title in titles) + "."


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
