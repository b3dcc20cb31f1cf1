"""The offline model and the notes demo: it deletes and lists notes when their tools are
offered, and answers from the result, a rejection included."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from goldpath.models import Message, ModelOutput, OfflineModel, TextDelta, Thought, ToolCall
from goldpath.models.offline import note_title
from goldpath.tools import BUILTIN_TOOLS, ApprovalAnswer, NoteBook

pytestmark = pytest.mark.unit

SPECS = [t.spec() for t in (*BUILTIN_TOOLS, *NoteBook().tools())]


def _answer(
    messages: Sequence[Message], specs: Sequence[Mapping[str, Any]] = SPECS
) -> list[ModelOutput]:
    return OfflineModel().answer(messages, specs)


def _text(outputs: Sequence[ModelOutput]) -> str:
    return "".join(o.text for o in outputs if isinstance(o, TextDelta))


def _after(call: ToolCall, result: str) -> list[Message]:
    return [
        Message("user", "delete it"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", result, tool_call_id=call.id, name=call.name),
    ]


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("delete the note groceries", "groceries"),
        ("Delete the note groceries.", "groceries"),
        ("Please delete my note called 'reading list'", "reading list"),
        ('remove the note named "ideas", please', "ideas"),
        ("erase note titled Ideas!", "Ideas"),
        ("delete the groceries note", "groceries"),
        ("Delete my reading list note?", "reading list"),
    ],
)
def test_a_request_to_delete_a_note_calls_delete_note_with_its_title(
    question: str, title: str
) -> None:
    outputs = _answer([Message("user", question)])
    assert isinstance(outputs[0], Thought)
    call = outputs[-1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("delete_note", {"title": title})
    assert note_title(question) == title


@pytest.mark.parametrize("question", ["delete the note", "delete my notes", "remove a note"])
def test_a_request_that_names_no_note_is_asked_which(question: str) -> None:
    outputs = _answer([Message("user", question)])
    assert not any(isinstance(o, ToolCall) for o in outputs)
    assert _text(outputs).startswith("Which note should I delete?")


def test_without_delete_note_offered_a_delete_request_is_not_a_call() -> None:
    builtin = [t.spec() for t in BUILTIN_TOOLS]
    outputs = _answer([Message("user", "delete the note groceries")], builtin)
    assert not any(isinstance(o, ToolCall) for o in outputs)
    text = _text(outputs)
    assert "only two things" in text
    assert "Notes" not in text


def test_the_introduction_names_the_notes_demo_when_it_is_offered() -> None:
    text = _text(_answer([Message("user", "hello")]))
    assert "only three things" in text
    assert "`Delete the note groceries`" in text


def test_a_note_title_with_numbers_is_a_deletion_not_a_sum() -> None:
    call = _answer([Message("user", "delete the note 2024-25 budget")])[-1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("delete_note", {"title": "2024-25 budget"})


def test_after_the_deletion_it_answers_from_the_tool_result() -> None:
    call = ToolCall("call_1", "delete_note", {"title": "groceries"})
    result = '{"deleted": "groceries", "notes_left": ["ideas", "reading list"]}'
    assert _text(_answer(_after(call, result))) == (
        "Deleted the note 'groceries'. Your notes now: 'ideas', 'reading list'."
    )
    # The person may have edited the args: the result, not the call, says what went.
    edited = '{"deleted": "ideas", "notes_left": []}'
    assert _text(_answer(_after(call, edited))) == (
        "Deleted the note 'ideas'. You have no notes left."
    )
    assert _text(_answer(_after(call, "ok"))) == "Deleted the note 'groceries'."


def test_after_a_rejection_it_says_it_did_not_delete_the_note_and_why() -> None:
    call = ToolCall("call_1", "delete_note", {"title": "groceries"})
    with_reason = ApprovalAnswer("reject", reason="I still need it").rejection().for_model()
    assert _text(_answer(_after(call, with_reason))) == (
        "I did not delete the note 'groceries', because you rejected it. You said: I still need it"
    )
    without = ApprovalAnswer("reject").rejection().for_model()
    assert _text(_answer(_after(call, without))) == (
        "I did not delete the note 'groceries', because you rejected it."
    )


def test_a_deletion_that_failed_says_why() -> None:
    call = ToolCall("call_1", "delete_note", {"title": "shopping"})
    result = "error: there is no note called 'shopping'; the notes are: 'ideas'"
    assert _text(_answer(_after(call, result))) == (
        "I could not delete the note 'shopping': there is no note called 'shopping'; "
        "the notes are: 'ideas'"
    )


def test_a_question_about_notes_lists_them() -> None:
    call = _answer([Message("user", "What notes do I have?")])[-1]
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("list_notes", {})
    listed = _after(call, '["groceries", "ideas"]')
    assert _text(_answer(listed)) == "Your notes: 'groceries', 'ideas'."
    assert _text(_answer(_after(call, "[]"))) == "You have no notes."
