"""The HTTP bodies of PROTOCOL.md as pydantic models: checked at the edge, shown in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from goldpath.events import utc_timestamp
from goldpath.server._text import JsonObject, Text
from goldpath.store import MessageRecord, RunRecord, ThreadRecord
from goldpath.tools import ApprovalAnswer

__all__ = [
    "ApprovalBody",
    "ApprovalFields",
    "ErrorBody",
    "HealthOut",
    "LoginBody",
    "MessageOut",
    "NewThreadBody",
    "RegisterBody",
    "RenameThreadBody",
    "RunAcceptedOut",
    "RunBody",
    "RunOut",
    "ThreadDetailOut",
    "ThreadOut",
    "TokenOut",
    "UserOut",
    "iso",
    "message_out",
    "run_out",
    "thread_out",
]

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,64}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str


class ErrorBody(BaseModel):
    """Every failure: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class RegisterBody(_Body):
    username: Text = Field(pattern=USERNAME_PATTERN, description="3-64 of A-Z a-z 0-9 _ . -")
    password: Text = Field(min_length=8, max_length=256)


class LoginBody(_Body):
    username: Text = Field(min_length=1, max_length=256)
    password: Text = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    user_id: str
    username: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class NewThreadBody(_Body):
    title: Text | None = Field(default=None, max_length=200)


class RenameThreadBody(_Body):
    title: str = Field(min_length=1, max_length=200, description="the new title, not blank")


class ThreadOut(BaseModel):
    thread_id: str
    title: str
    created_at: str
    updated_at: str


class MessageOut(BaseModel):
    message_id: str
    role: Literal["user", "assistant"]
    text: str
    run_id: str | None = Field(default=None, description="omitted when the message has no run")
    created_at: str


class ThreadDetailOut(ThreadOut):
    messages: list[MessageOut]


class RunBody(_Body):
    message: Text = Field(min_length=1, description="over the length limit: 422 too_large")
    agent: Text | None = Field(
        default=None,
        min_length=1,
        description="an agent name (GET /agents); the default agent if omitted (an empty "
        "name is bad_request)",
    )


class ApprovalFields(BaseModel):
    """A person's answer to a call waiting for approval: the HTTP body and the ``approve``
    frame carry the same fields."""

    decision: Literal["approve", "reject"]
    args: JsonObject | None = Field(
        default=None, description="approve only: the arguments the tool runs with instead"
    )
    reason: Text | None = Field(
        default=None, max_length=2000, description="reject only: told to the model"
    )

    def answer(self) -> ApprovalAnswer:
        return ApprovalAnswer(self.decision, self.args, self.reason)


class ApprovalBody(ApprovalFields):
    model_config = ConfigDict(extra="ignore", strict=True)


class RunAcceptedOut(BaseModel):
    run_id: str
    thread_id: str


class RunResult(BaseModel):
    text: str


class RunUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    agent: str
    status: Literal["running", "waiting", "ok", "error", "cancelled", "timeout"]
    created_at: str
    finished_at: str | None = Field(description="null while the run is running")
    result: RunResult | None = Field(default=None, description="omitted when there is no answer")
    error: str | None = Field(default=None, description="omitted when there is no error")
    usage: RunUsage | None = Field(
        default=None, description="the run's model tokens; omitted when the model reported none"
    )


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, str]


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and ``Z``, exactly like the events' ``ts``."""
    return utc_timestamp(moment)


def thread_out(thread: ThreadRecord) -> dict[str, Any]:
    return {
        "thread_id": thread.thread_id,
        "title": thread.title,
        "created_at": iso(thread.created_at),
        "updated_at": iso(thread.updated_at),
    }


def message_out(message: MessageRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message.message_id,
        "role": message.role,
        "text": message.text,
    }
    if message.run_id is not None:
        body["run_id"] = message.run_id
    body["created_at"] = iso(message.created_at)
    return body


def run_out(run: RunRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "agent": run.agent,
        "status": run.status,
        "created_at": iso(run.created_at),
        "finished_at": iso(run.finished_at) if run.finished_at is not None else None,
    }
    if run.result_text is not None:
        body["result"] = {"text": run.result_text}
    if run.error is not None:
        body["error"] = run.error
    if run.input_tokens is not None:
        body["usage"] = {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens}
    return body
