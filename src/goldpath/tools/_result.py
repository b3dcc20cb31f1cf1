"""What one tool call gave, as the model is shown it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolResult"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gave: ``value`` when ``ok``, an ``error`` the model can read otherwise."""

    ok: bool
    value: Any = None
    error: str | None = None

    def for_model(self) -> str:
        """The text a chat model is shown as the tool's answer."""
        if not self.ok:
            return f"error: {self.error}"
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, default=str, ensure_ascii=False)
