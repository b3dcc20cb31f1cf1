"""goldpath/__init__.py: the public API is exactly the documented list; importing it is light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import goldpath

pytestmark = pytest.mark.unit

PUBLIC = [
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

HEAVY = ["fastapi", "sqlalchemy", "openai", "libcst", "pydantic", "starlette", "redis"]


def test_all_is_pinned() -> None:
    assert goldpath.__all__ == PUBLIC


def _isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_all_is_sorted() -> None:
    assert goldpath.__all__ == sorted(goldpath.__all__, key=_isort_style)
    assert len(set(goldpath.__all__)) == len(goldpath.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from goldpath import {name}", namespace)
    assert namespace[name] is getattr(goldpath, name)


def test_version_is_a_string() -> None:
    assert isinstance(goldpath.__version__, str)
    assert goldpath.__version__


def test_import_goldpath_stays_light() -> None:
    code = (
        "import json, sys; import goldpath; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []
