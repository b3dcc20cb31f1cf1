"""The notes demo: `list_notes`, and `delete_note`, which waits for a person's approval.

It exists so that approvals can be tried without a network: the default server offers it
and the offline model calls it ("Delete the note groceries"). The notes are not storage:
every user starts with the same sample notes, and what a user deletes is remembered by one
`NoteBook` (made by `create_app`, never a module global) in the memory of the process that
ran the call, until it restarts. Another node of a cluster has its own `NoteBook`.
"""

from __future__ import annotations

from typing import Any

from goldpath.context import UserExecutionContext
from goldpath.tools._tool import Tool

__all__ = ["SAMPLE_NOTES", "NoteBook"]

SAMPLE_NOTES: tuple[str, ...] = ("groceries", "ideas", "reading list")
"""The titles of the notes every user starts with."""


class NoteBook:
    """Which sample notes each user has deleted, in this process: the demo tools' state.

    It holds one set of titles per user who deleted something (at most the sample's size),
    so it stays small whatever the users do.
    """

    __slots__ = ("_deleted",)

    def __init__(self) -> None:
        self._deleted: dict[str, set[str]] = {}

    def titles(self, user_id: str) -> list[str]:
        """The user's notes left, in the sample's order."""
        deleted = self._deleted.get(user_id, set())
        return [title for title in SAMPLE_NOTES if title not in deleted]

    def delete(self, user_id: str, title: str) -> str:
        """Delete the user's note called ``title`` (any letter case) and return its title;
        `ValueError` saying which notes there are when there is none by that name."""
        wanted = " ".join(title.split()).strip("'\"").casefold()
        left = self.titles(user_id)
        for candidate in left:
            if candidate.casefold() == wanted:
                self._deleted.setdefault(user_id, set()).add(candidate)
                return candidate
        have = ", ".join(repr(t) for t in left) if left else "none (all were deleted)"
        raise ValueError(f"there is no note called {title!r}; the notes are: {have}")

    def tools(self) -> tuple[Tool, ...]:
        """``list_notes`` and ``delete_note`` (requires approval), both on this notebook."""

        async def list_notes(context: UserExecutionContext) -> list[str]:
            return self.titles(context.user_id)

        async def delete_note(context: UserExecutionContext, title: str) -> dict[str, Any]:
            deleted = self.delete(context.user_id, title)
            return {"deleted": deleted, "notes_left": self.titles(context.user_id)}

        return (
            Tool.from_function(
                list_notes,
                description="List the titles of the user's notes (a demo: sample notes, "
                "kept in the server's memory).",
            ),
            Tool.from_function(
                delete_note,
                description="Delete the user's note with this title. A person must approve "
                "each call (a demo: sample notes, kept in the server's memory).",
                requires_approval=True,
            ),
        )
