"""Cursors of the paged lists (``GET /threads``, a thread's messages): opaque to clients.

A cursor names the last item of a page, not a position, so a page never repeats or skips
an item because others were added meanwhile. It is URL-safe base64 (no padding) of a
small JSON array: ``["t", updated_at, thread_id]`` for threads, ``["m", message_id]`` for
messages. The next cursor travels in the ``X-Next-Cursor`` header, so the bodies keep
their version 1 shapes (docs/protocol.md, "Paging").
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from goldpath.server._errors import ApiError
from goldpath.store import MessageRecord, ThreadRecord

__all__ = [
    "MAX_PAGE",
    "NEXT_CURSOR",
    "message_cursor",
    "read_message_cursor",
    "read_thread_cursor",
    "thread_cursor",
]

MAX_PAGE = 1000
"""The largest ``limit``, and the default: a client that does not page gets version 1's lists."""
NEXT_CURSOR = "X-Next-Cursor"


def _encode(parts: list[str]) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str, kind: str, size: int) -> list[str]:
    try:
        parts: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        parts = None
    if (
        not isinstance(parts, list)
        or len(parts) != size
        or parts[0] != kind
        or not all(isinstance(part, str) and part for part in parts)
    ):
        raise ApiError(
            422,
            "bad_request",
            "cursor: not a cursor of this list; send the "
            "X-Next-Cursor value of the previous page as it was",
        )
    return parts[1:]


def thread_cursor(thread: ThreadRecord) -> str:
    return _encode(["t", thread.updated_at.isoformat(), thread.thread_id])


def read_thread_cursor(cursor: str) -> tuple[datetime, str]:
    moment, thread_id = _decode(cursor, "t", 3)
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ApiError(422, "bad_request", "cursor: not a cursor of this list")
    return when, thread_id


def message_cursor(message: MessageRecord) -> str:
    return _encode(["m", message.message_id])


def read_message_cursor(cursor: str) -> str:
    return _decode(cursor, "m", 2)[0]
