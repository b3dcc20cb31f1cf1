"""goldpath: run AI agents for many users at once, and stream every step to its own user.

The golden path::

    factory = ExecutionEngineFactory(streams=InMemoryStreamHub())
    context = UserExecutionContext.create(user_id, thread_id)
    async with factory.user_execution_engine(context) as engine:
        outcome = await engine.run("supervisor", "What is 17 * 23?")

Everything listed in ``__all__`` is public; every other module may change without notice.
The server (`goldpath.server`), the store (`goldpath.store`) and the single-source-of-truth
tools (`goldpath.ssot`) are imported on their own, so ``import goldpath`` stays light.
"""

from goldpath._version import __version__
from goldpath.agents import Agent, AgentRegistry, Supervisor, builtin_agents
from goldpath.context import UserExecutionContext, new_id
from goldpath.engine import RunLimits, RunOutcome, UserExecutionEngine
from goldpath.errors import (
    AuthError,
    ConfigurationError,
    ConflictError,
    GoldpathError,
    InvalidContextError,
    LimitExceededError,
    ModelError,
    NotFoundError,
    RegistryError,
    RegistryFrozenError,
    SchemaVersionError,
    StoreError,
    StreamError,
    SubscriptionClosedError,
    ToolCallLimitError,
    ToolDefinitionError,
    TooManyRunsError,
    UnknownAgentError,
)
from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    Emitter,
    Event,
    EventData,
    MessageDelta,
    RunStatus,
    ToolCompleted,
    ToolExecuting,
    decode_event,
)
from goldpath.factory import (
    ExecutionEngineFactory,
    configure_execution_engine_factory,
    create_request_scoped_engine,
    get_execution_engine_factory,
)
from goldpath.models import (
    ChatModel,
    Message,
    OfflineModel,
    ScriptedModel,
    TextDelta,
    Thought,
    ToolCall,
)
from goldpath.stream import (
    InMemoryStreamHub,
    Replay,
    Resync,
    StreamHub,
    Subscription,
    UserStream,
)
from goldpath.tools import BUILTIN_TOOLS, Tool, ToolDispatcher, ToolResult, tool

__all__ = [
    "BUILTIN_TOOLS",
    "Agent",
    "AgentCompleted",
    "AgentRegistry",
    "AgentStarted",
    "AgentThinking",
    "AuthError",
    "ChatModel",
    "ConfigurationError",
    "ConflictError",
    "Emitter",
    "Event",
    "EventData",
    "ExecutionEngineFactory",
    "GoldpathError",
    "InMemoryStreamHub",
    "InvalidContextError",
    "LimitExceededError",
    "Message",
    "MessageDelta",
    "ModelError",
    "NotFoundError",
    "OfflineModel",
    "RegistryError",
    "RegistryFrozenError",
    "Replay",
    "Resync",
    "RunLimits",
    "RunOutcome",
    "RunStatus",
    "SchemaVersionError",
    "ScriptedModel",
    "StoreError",
    "StreamError",
    "StreamHub",
    "Subscription",
    "SubscriptionClosedError",
    "Supervisor",
    "TextDelta",
    "Thought",
    "TooManyRunsError",
    "Tool",
    "ToolCall",
    "ToolCallLimitError",
    "ToolCompleted",
    "ToolDefinitionError",
    "ToolDispatcher",
    "ToolExecuting",
    "ToolResult",
    "UnknownAgentError",
    "UserExecutionContext",
    "UserExecutionEngine",
    "UserStream",
    "__version__",
    "builtin_agents",
    "configure_execution_engine_factory",
    "create_request_scoped_engine",
    "decode_event",
    "get_execution_engine_factory",
    "new_id",
    "tool",
]
