"""What text the server takes from a client: Unicode it can store and send back.

A NUL character cannot be stored by PostgreSQL, and a lone surrogate (``"\\udfff"``, which
JSON's escapes can spell) is not Unicode at all: it cannot be encoded as UTF-8, so neither
a database nor a WebSocket frame can carry it. Both are refused at the edge, the same way
on every store backend.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

__all__ = ["JsonObject", "Text", "check_text", "is_text"]


def is_text(value: str) -> bool:
    """True when ``value`` has no NUL character and no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str) -> str:
    """``value`` itself, or `ValueError` saying what it holds that text cannot."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    if not is_text(value):
        raise ValueError("must be valid Unicode (no lone surrogates such as \\udfff)")
    return value


Text = Annotated[str, AfterValidator(check_text)]
"""A string field of a client's body or frame: `check_text` applies."""


def _check_nested(value: Any) -> Any:
    """``value`` itself, or `ValueError` when a key or string anywhere in it is not text."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_nested(item)
    elif isinstance(value, list):
        for item in value:
            _check_nested(item)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_check_nested)]
"""A JSON object a client sends (a tool call's edited arguments): every string in it text."""
