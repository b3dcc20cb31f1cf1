"""The notes demo's tools: per user, per notebook, and delete_note waits for approval."""

from __future__ import annotations

import pytest

from goldpath.context import UserExecutionContext
from goldpath.tools import SAMPLE_NOTES, NoteBook

pytestmark = pytest.mark.unit


def test_every_user_starts_with_the_sample_notes_and_deletes_only_their_own() -> None:
    book = NoteBook()
    assert book.titles("ann") == list(SAMPLE_NOTES)
    assert book.delete("ann", "  Groceries ") == "groceries"
    assert book.titles("ann") == [t for t in SAMPLE_NOTES if t != "groceries"]
    assert book.titles("bob") == list(SAMPLE_NOTES)
    assert NoteBook().titles("ann") == list(SAMPLE_NOTES)  # a notebook's own, no global


def test_deleting_a_missing_note_says_which_notes_there_are() -> None:
    book = NoteBook()
    book.delete("ann", "groceries")
    with pytest.raises(ValueError, match="no note called 'groceries'; the notes are: 'ideas'"):
        book.delete("ann", "groceries")
    for title in ("ideas", "reading list"):
        book.delete("ann", title)
    with pytest.raises(ValueError, match=r"the notes are: none \(all were deleted\)"):
        book.delete("ann", "ideas")


async def test_the_tools_act_for_the_context_user_and_delete_note_requires_approval() -> None:
    book = NoteBook()
    list_notes, delete_note = book.tools()
    assert (list_notes.name, delete_note.name) == ("list_notes", "delete_note")
    assert (list_notes.requires_approval, delete_note.requires_approval) == (False, True)
    assert delete_note.parameters["required"] == ["title"]
    ann = UserExecutionContext.create("ann", "t1")
    result = await delete_note.invoke(ann, delete_note.bind({"title": "ideas"}))
    assert result == {"deleted": "ideas", "notes_left": ["groceries", "reading list"]}
    assert await list_notes.invoke(ann, list_notes.bind({})) == ["groceries", "reading list"]
    bob = UserExecutionContext.create("bob", "t1")
    assert await list_notes.invoke(bob, {}) == list(SAMPLE_NOTES)
