"""The client frames of PROTOCOL.md's WebSocket, checked once at the edge."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from goldpath.server._schemas import ApprovalFields
from goldpath.server._text import Text, is_text

__all__ = [
    "AnyFrame",
    "ApproveFrame",
    "AuthFrame",
    "CancelFrame",
    "ChatFrame",
    "ClientFrame",
    "FrameError",
    "PingFrame",
    "ResumeFrame",
    "encode",
    "parse_frame",
]

encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""Frames are encoded like events: compact, UTF-8."""


TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""A W3C ``traceparent``: version, trace id, parent span id, flags, in lowercase hex."""


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: Text


class ChatFrame(_Frame):
    type: Literal["chat"]
    message: Text = Field(min_length=1)
    thread_id: Text | None = Field(default=None, min_length=1)
    agent: Text | None = Field(default=None, min_length=1)
    client_msg_id: Text | None = None
    traceparent: str | None = Field(default=None, pattern=TRACEPARENT)
    """v2: W3C trace context; the run's spans join that trace (docs/observability.md)."""


class CancelFrame(_Frame):
    type: Literal["cancel"]
    run_id: Text = Field(min_length=1)


class ApproveFrame(ApprovalFields):
    """v2: a person's answer to a call the run ``run_id`` waits on (docs/approvals.md)."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    type: Literal["approve"]
    run_id: Text = Field(min_length=1)
    call_id: Text = Field(min_length=1)
    client_msg_id: Text | None = None
    """Echoed as ``ref`` in an error frame refusing this answer, as for ``chat``."""


class ResumeFrame(_Frame):
    type: Literal["resume"]
    epoch: Text
    offset: int


class PingFrame(_Frame):
    type: Literal["ping"]


AnyFrame: TypeAlias = AuthFrame | ChatFrame | CancelFrame | ApproveFrame | ResumeFrame | PingFrame
ClientFrame: TypeAlias = Annotated[AnyFrame, Field(discriminator="type")]
_FRAME = TypeAdapter[ClientFrame](ClientFrame)
_TYPES = ("auth", "chat", "cancel", "approve", "resume", "ping")


class FrameError(ValueError):
    """A frame the server cannot use; answered with ``bad_request``, ``ref`` when known."""

    def __init__(self, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.ref = ref


def parse_frame(text: str) -> AnyFrame:
    """The frame in ``text``, or `FrameError` saying what is wrong with it.

    Nesting too deep for the parser is not valid JSON here; a ``client_msg_id`` is echoed as
    the error's ``ref`` only when it is text that can be sent back.
    """
    try:
        raw: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError(
            "the frame is not valid JSON (or nests too deep); send one JSON object per message"
        ) from None
    if not isinstance(raw, dict):
        raise FrameError("the frame must be a JSON object with a 'type'")
    ref = raw.get("client_msg_id")
    ref = ref if isinstance(ref, str) and is_text(ref) else None
    kind = raw.get("type")
    if kind not in _TYPES:
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else "that"
        raise FrameError(f"unknown frame type {shown}; the types are {', '.join(_TYPES)}", ref)
    try:
        return _FRAME.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:]) or 'frame'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise FrameError(f"the {kind} frame is not valid: {problems}", ref) from None
