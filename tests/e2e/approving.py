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


def reading_tool(record: Callable[[str], None]) -> Tool:
    """``read_note``, which needs no approval and calls ``record`` with the title it reads."""

    @tool
    async def read_note(title: str) -> str:
        """Read the note with this title."""
        record(title)
        return f"the note {title!r} says nothing"

    return read_note


class DeletingModel:
    """Deletes each note the message names, then answers ``done``: the vendor boundary,
    scripted. ``delete a b`` makes one call a turn; ``delete-together a b`` makes every
    call in the first turn. When the run has ``read_note``, each note is read first (a
    call without approval, made in the same turn as its delete)."""

    @property
    def name(self) -> str:
        return "deleting"

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        turn = 0
        words: list[str] = []
        for message in reversed(messages):
            if message.role == "user":
                words = message.content.split()
                break
            turn += message.role == "assistant"
        together, titles = words[:1] == ["delete-together"], words[1:]
        reads = any(spec["name"] == "read_note" for spec in tools)
        wanted = range(len(titles)) if together else range(turn, turn + 1)
        if turn >= (1 if together else len(titles)):
            yield TextDelta("done")
            return
        for i in wanted:
            if reads:
                yield ToolCall(f"read_{i}", "read_note", {"title": titles[i]})
            yield ToolCall(f"call_{i}", "delete_note", {"title": titles[i]})
