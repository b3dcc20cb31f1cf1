"""Every error goldpath raises, in one tree.

    GoldpathError                  root: catch this to catch anything goldpath raised
    ├── ConfigurationError         settings or wiring are wrong; fix them and restart
    ├── InvalidContextError        a UserExecutionContext field is empty or a placeholder
    ├── LimitExceededError         a configured limit was reached; wait or raise the limit
    │   ├── TooManyRunsError       the user already has the maximum runs in flight
    │   └── ToolCallLimitError     one run asked for more tool calls than allowed
    ├── RegistryError              an agent registry was misused
    │   ├── UnknownAgentError      no agent is registered under that name
    │   ├── AgentCreationError     an agent's __init__ raised
    │   └── RegistryFrozenError    the registry is read-only after start-up
    ├── ToolDefinitionError        a Python function cannot be turned into a tool
    ├── ToolError                  a tool's own service failed (an MCP server); the model reads it
    ├── ModelError                 a chat model failed or answered something unusable
    ├── StreamError                a user stream backend failed
    │   └── SubscriptionClosedError  a subscriber was closed or fell behind; resync
    ├── StoreError                 the store failed
    │   ├── NotFoundError          no such object for this owner (also: someone else's)
    │   ├── ConflictError          the object exists already or is in the wrong state
    │   │   └── RunFinishedError   the run has ended already (here or on another node)
    │   └── SchemaVersionError     the database schema is newer than this code
    └── AuthError                  credentials or a token were refused

Each message says what was wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AgentCreationError",
    "AuthError",
    "ConfigurationError",
    "ConflictError",
    "GoldpathError",
    "InvalidContextError",
    "LimitExceededError",
    "ModelError",
    "NotFoundError",
    "RegistryError",
    "RegistryFrozenError",
    "RunFinishedError",
    "SchemaVersionError",
    "StoreError",
    "StreamError",
    "SubscriptionClosedError",
    "TooManyRunsError",
    "ToolCallLimitError",
    "ToolDefinitionError",
    "ToolError",
    "UnknownAgentError",
]


class GoldpathError(Exception):
    """Root of every error goldpath raises."""


class ConfigurationError(GoldpathError):
    """Settings or wiring are wrong."""


class InvalidContextError(GoldpathError, ValueError):
    """A `UserExecutionContext` was given an empty or placeholder id."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(
            f"UserExecutionContext.{field} is {value!r}: it must be a real id, not empty, "
            "whitespace or a placeholder such as 'None', 'null' or 'undefined'; "
            "build the context from the authenticated request"
        )
        self.field = field


class LimitExceededError(GoldpathError):
    """A configured limit was reached."""


class TooManyRunsError(LimitExceededError):
    """The user already has the maximum number of runs in flight."""

    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(
            f"user {user_id!r} already has {limit} runs in flight, the most allowed; "
            "wait for one to finish or cancel one"
        )
        self.user_id = user_id
        self.limit = limit


class ToolCallLimitError(LimitExceededError):
    """One run asked for more tool calls than its limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the run asked for more than {limit} tool calls, the most one run may make; "
            "ask for less in one message or raise the tool-call limit"
        )
        self.limit = limit


class RegistryError(GoldpathError):
    """An agent registry was misused."""


class UnknownAgentError(RegistryError, LookupError):
    """No agent is registered under the requested name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"no agent is registered as {name!r}; known agents: {', '.join(known) or 'none'}"
        )
        self.name = name


class AgentCreationError(RegistryError):
    """An agent class could not be made: its ``__init__`` raised."""

    def __init__(self, name: str, cause: Exception) -> None:
        super().__init__(
            f"agent {name!r} could not be created: {type(cause).__name__}: {cause}; "
            "fix its __init__ (an agent is made afresh for every run)"
        )
        self.name = name


class RegistryFrozenError(RegistryError):
    """The registry was changed after start-up, when it is read-only."""


class ToolDefinitionError(GoldpathError, TypeError):
    """A Python function cannot be turned into a tool."""


class ToolError(GoldpathError):
    """A tool's own service failed or refused the call (an MCP server); the run goes on and
    the model reads the message as the tool's result."""


class ModelError(GoldpathError):
    """A chat model failed or answered something unusable."""


class StreamError(GoldpathError):
    """A user stream backend failed."""


class SubscriptionClosedError(StreamError):
    """A subscription ended: closed by its owner, or dropped for falling behind.

    ``reason`` is the resync reason a client is told.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"the stream subscription ended ({reason}); resubscribe and resync")
        self.reason = reason


class StoreError(GoldpathError):
    """The store failed."""


class NotFoundError(StoreError, LookupError):
    """No such object for this owner; someone else's object is reported the same way."""


class ConflictError(StoreError):
    """The object exists already, or is in a state that forbids the change."""


class RunFinishedError(ConflictError):
    """The run has ended already: by its own node, or by a sweep that found its node gone.

    Whoever ended it wrote its ``agent_completed``; nobody else may write another.
    """


class SchemaVersionError(StoreError):
    """The database schema is newer than this code understands."""


class AuthError(GoldpathError):
    """Credentials or a token were refused."""
