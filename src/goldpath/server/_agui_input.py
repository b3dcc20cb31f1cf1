"""What an AG-UI client sends: AG-UI 1.0's ``RunAgentInput`` (the parts goldpath reads), its
``resume`` entries, and the goldpath ids of the client's own thread and run ids."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

from goldpath.errors import ConflictError
from goldpath.server._errors import ApiError
from goldpath.server._text import JsonObject, Text
from goldpath.tools import ApprovalAnswer

__all__ = ["ApprovalPayload", "InputMessage", "ResumeEntry", "RunAgentInput", "agui_id"]


class _Camel(BaseModel):
    """AG-UI's wire names are camelCase; fields the server does not use are accepted."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class InputMessage(_Camel):
    """A message of ``RunAgentInput.messages``: only a user message's text is read."""

    id: str
    role: str
    content: Any = None

    def text(self) -> str | None:
        """The message's text: its string content, or its text parts joined."""
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            parts = [
                part["text"]
                for part in self.content
                if isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ]
            return "".join(parts) if parts else None
        return None


class ApprovalPayload(_Camel):
    """The ``payload`` of a resume entry that answers a goldpath interrupt: AG-UI 1.0's
    approve-with-edits pattern (``approved``, ``editedArgs``) and a reason for a rejection;
    the interrupt's ``responseSchema`` says the same."""

    approved: StrictBool
    edited_args: JsonObject | None = Field(
        default=None, description="approve only: the arguments the tool runs with instead"
    )
    reason: Text | None = Field(
        default=None, max_length=2000, description="reject only: told to the model"
    )


class ResumeEntry(_Camel):
    """AG-UI 1.0's answer to one interrupt: goldpath's interrupt id is the call's id."""

    interrupt_id: Text = Field(min_length=1)
    status: Literal["resolved", "cancelled"]
    payload: ApprovalPayload | None = None

    def answer(self) -> ApprovalAnswer:
        """The person's answer; ``cancelled`` (the user answered nothing) rejects the call."""
        if self.status == "cancelled":
            return ApprovalAnswer("reject")
        if self.payload is None:
            raise ApiError(
                422,
                "bad_request",
                f"the resume entry for {self.interrupt_id!r} is resolved but has no payload; "
                'send {"approved": true} or {"approved": false}',
            )
        payload = self.payload
        if payload.approved:
            return ApprovalAnswer("approve", payload.edited_args, payload.reason)
        return ApprovalAnswer("reject", payload.edited_args, payload.reason)


class RunAgentInput(_Camel):
    """AG-UI 1.0's ``RunAgentInput``. goldpath keeps the thread's history itself, so of the
    messages only the last user message is read: it is the chat message of the run. With
    ``resume``, no message is read: the entry answers the call a run of the thread waits
    for, and that run goes on."""

    thread_id: str = Field(description="the client's own thread id, scoped to the user")
    run_id: str = Field(description="the client's own run id, scoped to the user")
    messages: list[InputMessage]
    resume: list[ResumeEntry] | None = None

    def resume_entry(self) -> ResumeEntry | None:
        """The one answer of ``resume``; goldpath asks for one call at a time."""
        if not self.resume:
            return None
        if len(self.resume) > 1:
            ids = ", ".join(repr(entry.interrupt_id) for entry in self.resume)
            raise ConflictError(
                f"resume answers {len(self.resume)} interrupts ({ids}), but a goldpath run "
                "waits for one call at a time; answer the interrupt of the last RUN_FINISHED"
            )
        return self.resume[0]

    def chat_message(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                text = message.text()
                if text is None:
                    raise ApiError(
                        422,
                        "bad_request",
                        "the last user message has no text; send its content as a string "
                        "or as text parts",
                    )
                return text
        raise ApiError(
            422, "bad_request", "messages has no user message; send the user's message last"
        )


def agui_id(kind: str, user_id: str, client_id: str) -> str:
    """The goldpath id (``thr_…`` or ``run_…``) of an AG-UI client's own thread or run id.

    Made from the user and the client's id, so one client id names one object per user
    and can never name another user's.
    """
    digest = hashlib.sha256(f"{kind}\0{user_id}\0{client_id}".encode()).hexdigest()
    return f"{kind}_{digest[:32]}"
