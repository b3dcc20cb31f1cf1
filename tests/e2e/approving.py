"""The approval fixtures of the e2e tests: a tool that needs approval and records each
run of it, and the scripted model that calls it.

``delete_note`` is handed a recorder, so a test in this process counts in memory and a
node process (`tests.e2e.node`, ``TEST_APPROVALS_LOG``) appends to a file any test reads.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from goldpath import Tool, tool
from goldpath.models import Message, ModelOutput, TextDelta, ToolCall


def deleting_tool(record: Callable[[str], None]) -> Tool:
    """``delete_note``, which needs approval and calls ``record`` with the title it deletes."""

    @tool(requires_approval=True)
    async def delete_note(title: str) -> str:
        """Delete the note with this title."""
        record(title)
        return f"deleted {title!r}"

    return delete_note


def logged_tool(log: Path) -> Tool:
    """`deleting_tool` appending ``<title> <pid>`` to ``log``: runs seen across processes."""

    def record(title: str) -> None:
        with log.open("a", encoding="utf-8") as out:
            out.write(f"{title} {os.getpid()}\n")

    return deleting_tool(record)


def logged_runs(log: Path) -> Counter[tuple[str, int]]:
    """How often each (title, pid) ran, from a `logged_tool`'s log."""
    if not log.exists():
        return Counter()
    lines = log.read_text(encoding="utf-8").splitlines()
    return Counter((title, int(pid)) for title, pid in (line.split() for line in lines))


class DeletingModel:
    """Deletes each note the message names (``delete a b c``), one call a turn, then
    answers ``done``: the vendor boundary, scripted."""

    @property
    def name(self) -> str:
        return "deleting"

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        turn = 0
        titles: list[str] = []
        for message in reversed(messages):
            if message.role == "user":
                titles = message.content.split()[1:]
                break
            turn += message.role == "assistant"
        if turn < len(titles):
            yield ToolCall(f"call_{turn}", "delete_note", {"title": titles[turn]})
        else:
            yield TextDelta("done")
