"""How `goldpath chat` shows frames: one readable line per event, the answer inline.

`EventRenderer` holds no protocol state, so each event type can be tested from a frame alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["EventRenderer", "describe", "frame_data", "milliseconds"]

_HINTS = {
    "rate_limited": "rate limited: too many messages or runs at once; wait a moment and retry",
    "too_large": "message too large: shorten it and send it again",
    "unauthorized": "not authorised: log in again",
    "not_found": "not found: no such run or thread for this account",
    "conflict": "conflict: that run has already finished, or its call was answered already",
    "bad_request": "the server did not accept the frame",
    "internal": "the server failed; see its log",
}
_STATUS_STYLE = {"ok": "green", "cancelled": "yellow"}
_RESULT_CHARS = 200


def milliseconds(value: object) -> str:
    """``0.1 ms`` under ten milliseconds, ``12 ms`` above."""
    number = float(value) if isinstance(value, int | float) else 0.0
    return f"{number:.1f} ms" if number < 10 else f"{number:.0f} ms"


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _RESULT_CHARS else text[: _RESULT_CHARS - 1] + "…"


class EventRenderer:
    """Writes frames to a console as they arrive; the answer streams inline, delta by delta."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._answering = False

    def render(self, frame: Mapping[str, Any]) -> None:
        if frame.get("type") == "message_delta":
            delta = frame_data(frame).get("delta")
            self.console.print(Text(str(delta or "")), end="", soft_wrap=True)
            self._answering = True
            return
        line = describe(frame)
        if line is not None:
            self.line(line)

    def line(self, text: Text) -> None:
        """A line of its own, after ending the answer being streamed, if any."""
        if self._answering:
            self.console.print()
            self._answering = False
        self.console.print(text, soft_wrap=True)

    def note(self, message: str) -> None:
        self.line(Text(message, style="dim"))


def frame_data(frame: Mapping[str, Any]) -> Mapping[str, Any]:
    data = frame.get("data")
    return data if isinstance(data, Mapping) else {}


def describe(frame: Mapping[str, Any]) -> Text | None:
    """The line shown for one frame (``None`` for frames shown as nothing or inline)."""
    kind = frame.get("type")
    data = frame_data(frame)
    if kind == "agent_started":
        return Text.assemble(("▶ started", "bold cyan"), (f" {frame.get('agent', '')}", "dim"))
    if kind == "agent_thinking":
        return Text(f"… thinking: {data.get('thought', '')}", style="dim")
    if kind == "tool_executing":
        args = json.dumps(data.get("args", {}), ensure_ascii=False, default=str)
        return Text.assemble(("⚙ ", "yellow"), (str(data.get("tool", "")), "bold"), f" {args}")
    if kind == "tool_completed":
        took = f" ({milliseconds(data.get('duration_ms'))})"
        tool = str(data.get("tool", ""))
        if data.get("ok"):
            result = _shown(data.get("result"))
            return Text.assemble(("✓ ", "green"), (tool, "bold"), f" → {result}", (took, "dim"))
        error = _shown(data.get("error") or "failed")
        return Text.assemble(("✗ ", "red"), (tool, "bold"), (f" error: {error}", "red"), took)
    if kind == "agent_completed":
        status = str(data.get("status", "?"))
        text = Text(f"■ completed {status}", style=f"bold {_STATUS_STYLE.get(status, 'red')}")
        text.append(f" ({milliseconds(data.get('duration_ms'))})", style="dim")
        if data.get("error"):
            text.append(f": {data['error']}", style="red")
        return text
    if kind == "approval_requested":
        args = json.dumps(data.get("args", {}), ensure_ascii=False, default=str)
        return Text.assemble(
            ("⏸ approval needed: ", "bold yellow"), (str(data.get("tool", "")), "bold"), f" {args}"
        )
    if kind == "approval_resolved":
        if data.get("by") == "timeout":
            return Text("✗ rejected: nobody answered in time", style="red")
        if data.get("decision") == "approve":
            return Text("✓ approved", style="green")
        return Text("✗ rejected", style="red")
    if kind == "error":
        code = str(frame.get("code", "internal"))
        hint = _HINTS.get(code, code)
        return Text(f"✗ {hint} ({code}: {frame.get('message', '')})", style="red")
    if kind == "resumed":
        return Text(f"↻ reconnected: {frame.get('replayed', 0)} missed event(s) replayed", "dim")
    if kind == "resync":
        return Text(f"↻ reconnected, history lost ({frame.get('reason', '')})", style="dim")
    return None  # ready, run_accepted, pong, deltas, and frames of later protocol versions
