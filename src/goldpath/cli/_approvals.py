"""How `goldpath chat` answers a call that waits for the user's approval.

``--approvals ask`` asks "Approve? [y/n/e(dit)]" on the terminal; ``approve`` and
``reject`` answer every call without asking, for scripts. The default asks only when stdin
is a terminal: a one-shot ``-m`` in a pipe must never hang on a question nobody can see, so
there it rejects, and says how to approve instead.

The questions are read in a daemon thread, so the event loop keeps the WebSocket alive
(its pings answered) while the person thinks, and Ctrl-C still reaches the run: the run is
cancelled, and the question ends at the next Enter without answering.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import click
from rich.console import Console
from rich.text import Text

__all__ = ["MODES", "Answer", "Approver", "Mode", "default_mode", "terminal_editor"]

Mode = Literal["ask", "approve", "reject"]
MODES: tuple[Mode, ...] = ("ask", "approve", "reject")
_NOT_A_TERMINAL = (
    "rejected without asking: stdin is not a terminal, so nobody could answer; "
    "pass --approvals approve to approve such calls, or --approvals ask to read y/n/e from stdin"
)
_NO_INPUT = "the input ended before an answer"


@dataclass(frozen=True, slots=True)
class Answer:
    """The fields of an ``approve`` frame besides its type, run and call."""

    decision: Literal["approve", "reject"]
    args: Mapping[str, Any] | None = None
    reason: str | None = None

    def fields(self) -> dict[str, Any]:
        sent: dict[str, Any] = {"decision": self.decision}
        if self.args is not None:
            sent["args"] = dict(self.args)
        if self.reason:
            sent["reason"] = self.reason
        return sent


def default_mode(stdin_is_terminal: bool) -> Mode:
    return "ask" if stdin_is_terminal else "reject"


@dataclass(slots=True)
class Approver:
    """Answers ``approval_requested`` events in one `Mode`, writing to ``console``.

    ``read`` reads one line of input (`EOFError` at its end); ``edit`` opens a text in the
    user's editor and returns what they saved, or is None when there is no editor to use.
    """

    mode: Mode
    console: Console
    explicit: bool = True
    """Whether the mode was asked for; a default ``reject`` says why it did not ask."""
    read: Callable[[str], str] = field(default=input)
    edit: Callable[[str], str | None] | None = None
    _cancelled: Callable[[], bool] = field(default=lambda: False, init=False, repr=False)

    async def answer(
        self, tool: str, args: Mapping[str, Any], cancelled: Callable[[], bool]
    ) -> Answer | None:
        """The answer to one call; None when ``cancelled()`` became true while asking."""
        if self.mode == "approve":
            self._note("approved (--approvals approve)")
            return Answer("approve")
        if self.mode == "reject":
            if self.explicit:
                self._note("rejected (--approvals reject)")
                return Answer("reject", reason="rejected by --approvals reject")
            self._note(_NOT_A_TERMINAL)
            return Answer("reject", reason="nobody could be asked (stdin is not a terminal)")
        self._cancelled = cancelled
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[Answer | None] = loop.create_future()

        def ask() -> None:
            try:
                result: Answer | None = self._ask(tool, args)
            except BaseException as exc:  # handed to the awaiting task, not lost in the thread
                loop.call_soon_threadsafe(_settle, answered, None, exc)
                return
            loop.call_soon_threadsafe(_settle, answered, result, None)

        # A daemon thread: one abandoned by a second Ctrl-C never holds the process open.
        threading.Thread(target=ask, name="goldpath-approval", daemon=True).start()
        return await answered

    def _note(self, message: str) -> None:
        self.console.print(Text(message, style="dim"), soft_wrap=True)

    def _line(self, prompt: str) -> str | None:
        """One line of input, stripped; None at the end of the input."""
        self.console.print(prompt, end="", markup=False, highlight=False)
        try:
            return self.read("").strip()
        except EOFError:
            self.console.print()
            return None

    def _ask(self, tool: str, args: Mapping[str, Any]) -> Answer | None:
        while True:
            said = self._line("Approve? [y/n/e(dit)] ")
            if self._cancelled():
                return None
            if said is None:
                self._note(f"rejected: {_NO_INPUT}")
                return Answer("reject", reason=_NO_INPUT)
            choice = said.lower()
            if choice in ("y", "yes"):
                return Answer("approve")
            if choice in ("n", "no"):
                reason = self._line("Reason (optional, Enter for none): ")
                return None if self._cancelled() else Answer("reject", reason=reason or None)
            if choice in ("e", "edit"):
                edited = self._edited(args)
                if self._cancelled():
                    return None
                if edited is None:
                    self._note(f"rejected: {_NO_INPUT}")
                    return Answer("reject", reason=_NO_INPUT)
                return Answer("approve", args=edited)
            self.console.print(
                f"answer y to approve {tool}, n to reject it, or e to edit its args first",
                style="yellow",
                markup=False,
            )

    def _edited(self, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """The args as the user edits them: a JSON object, asked again until it is one.
        None when the input ends first."""
        current = json.dumps(args, ensure_ascii=False)
        while True:
            if self.edit is not None:
                text = self.edit(json.dumps(args, ensure_ascii=False, indent=2) + "\n")
                if text is None:  # the editor could not be used: ask on the line instead
                    self.edit = None
                    continue
            else:
                line = self._line(f"args as one line of JSON (Enter keeps {current}): ")
                if line is None or self._cancelled():
                    return None
                text = line or current
            try:
                value = json.loads(text)
            except ValueError as exc:
                self._invalid(f"that is not valid JSON ({exc})")
                continue
            if not isinstance(value, dict):
                self._invalid(f"the args must be a JSON object {{...}}, not {type(value).__name__}")
                continue
            return value

    def _invalid(self, why: str) -> None:
        self.console.print(f"{why}; try again", style="red", markup=False)


def _settle(
    future: asyncio.Future[Answer | None], result: Answer | None, error: BaseException | None
) -> None:
    if future.done():  # the task stopped waiting (a second Ctrl-C)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def terminal_editor() -> Callable[[str], str | None] | None:
    """The user's ``$EDITOR`` when it is set and both ends are a terminal, else None."""
    if not os.environ.get("EDITOR") or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None

    def edit(text: str) -> str | None:
        try:
            return click.edit(text, extension=".json", require_save=False)
        except click.ClickException:
            return None

    return edit
