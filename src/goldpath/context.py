"""The immutable facts of one request: who asked, in which thread, for which run."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from goldpath.errors import InvalidContextError

__all__ = ["UserExecutionContext", "is_real_id", "new_id"]

_PLACEHOLDERS = frozenset({"none", "null", "undefined", "nil", "nan"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def new_id(prefix: str) -> str:
    """A fresh opaque id such as ``run_9f1c…``; the prefix only helps people reading logs."""
    return f"{prefix}_{uuid.uuid4().hex}"


def is_real_id(value: object) -> bool:
    """False for what no object's id can be: not a string, empty, whitespace, a
    placeholder a client sends by mistake (``None``, ``null``, ``undefined``, ...), or
    holding a NUL character or a lone surrogate (which no database stores)."""
    return (
        isinstance(value, str)
        and bool(value.strip())
        and value.strip().lower() not in _PLACEHOLDERS
        and "\x00" not in value
        and (value.isascii() or _is_unicode(value))
    )


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_id(name: str, value: object) -> None:
    if not is_real_id(value):
        raise InvalidContextError(name, value)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    # A copy behind a read-only proxy: neither the caller nor an agent can change it later.
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


@dataclass(frozen=True, slots=True)
class UserExecutionContext:
    """One request's identity, made by the server from the authenticated user.

    Never build it from ids a client sent: `user_id` is who the server says the caller is.
    `agent_context` is for agents to read; `audit_metadata` is for logs and audit only.
    """

    user_id: str
    thread_id: str
    run_id: str
    request_id: str
    agent_context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    audit_metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        _check_id("user_id", self.user_id)
        _check_id("thread_id", self.thread_id)
        _check_id("run_id", self.run_id)
        _check_id("request_id", self.request_id)
        object.__setattr__(self, "agent_context", _frozen(self.agent_context))
        object.__setattr__(self, "audit_metadata", _frozen(self.audit_metadata))

    @classmethod
    def create(
        cls,
        user_id: str,
        thread_id: str,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        agent_context: Mapping[str, Any] = _EMPTY,
        audit_metadata: Mapping[str, Any] = _EMPTY,
    ) -> UserExecutionContext:
        """A context for a new run, with fresh run and request ids unless given."""
        return cls(
            user_id=user_id,
            thread_id=thread_id,
            run_id=new_id("run") if run_id is None else run_id,
            request_id=new_id("req") if request_id is None else request_id,
            agent_context=agent_context,
            audit_metadata=audit_metadata,
        )

    def child(
        self,
        *,
        run_id: str | None = None,
        agent_context: Mapping[str, Any] | None = None,
        audit_metadata: Mapping[str, Any] | None = None,
    ) -> UserExecutionContext:
        """A context for a sub-agent call: same user, thread and request, its own run id.

        Mappings given here are laid over the parent's; the parent run id is kept for audit.
        """
        return UserExecutionContext(
            user_id=self.user_id,
            thread_id=self.thread_id,
            run_id=new_id("run") if run_id is None else run_id,
            request_id=self.request_id,
            agent_context={**self.agent_context, **(agent_context or {})},
            audit_metadata={
                **self.audit_metadata,
                **(audit_metadata or {}),
                "parent_run_id": self.run_id,
            },
        )

    def log_fields(self) -> dict[str, str]:
        """The ids every log line about this request carries."""
        return {"user_id": self.user_id, "run_id": self.run_id, "request_id": self.request_id}
