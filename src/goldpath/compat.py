"""The legacy execution-engine API, each name a thin redirect to the canonical one.

Every use warns with a `DeprecationWarning` that says what to write instead, and
``goldpath migrate`` rewrites the code for you. Nothing inside goldpath imports this module.

    legacy                                          canonical
    ExecutionEngine(registry, bridge, context)      await UserExecutionEngine.create_from_legacy(
                                                        registry, bridge, context)
                                                    (better: factory.user_execution_engine(ctx))
    AgentWebSocketBridge.create_for_user(ctx)       the user's Emitter (engine.emitter(agent))
    AgentWebSocketBridge.create_anonymous()         an Emitter whose events go nowhere
    UserExecutionContext(..., metadata={...})       UserExecutionContext(..., agent_context={...})
    from goldpath.compat import X                   from goldpath import X
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import goldpath
from goldpath.agents import AgentRegistry
from goldpath.context import UserExecutionContext as _Context
from goldpath.engine import SilentSink
from goldpath.engine import UserExecutionEngine as _Engine
from goldpath.events import Emitter
from goldpath.factory import get_execution_engine_factory

__all__ = ["AgentWebSocketBridge", "ExecutionEngine", "UserExecutionContext"]


def _deprecated(old: str, new: str) -> None:
    # stacklevel 3: the warning points at the caller's line, so it shows once per call site.
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


class _RedirectMeta(type):
    """Lets ``isinstance(engine, ExecutionEngine)`` keep working on canonical objects."""

    _canonical: type

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls._canonical)


class ExecutionEngine(metaclass=_RedirectMeta):
    """Legacy: ``ExecutionEngine(registry, websocket_bridge, user_context)``."""

    _canonical = _Engine

    def __new__(  # type: ignore[misc]
        cls,
        registry: AgentRegistry,
        websocket_bridge: Emitter | None,
        user_context: _Context | None,
    ) -> _Engine:
        _deprecated(
            "goldpath.compat.ExecutionEngine(registry, websocket_bridge, user_context)",
            "await goldpath.UserExecutionEngine.create_from_legacy(registry, websocket_bridge, "
            "user_context), or better factory.user_execution_engine(ctx)",
        )
        return _Engine._for_legacy(registry, websocket_bridge, user_context)


class AgentWebSocketBridge:
    """Legacy event bridge; the canonical object is the user's `Emitter`."""

    @staticmethod
    def create_for_user(user_context: _Context, agent: str = "supervisor") -> Emitter:
        _deprecated(
            "goldpath.compat.AgentWebSocketBridge.create_for_user(ctx)",
            "the engine's emitter: factory.create_for_user(ctx).emitter(agent)",
        )
        return get_execution_engine_factory().create_for_user(user_context).emitter(agent)

    @staticmethod
    def create_anonymous() -> Emitter:
        _deprecated(
            "goldpath.compat.AgentWebSocketBridge.create_anonymous()",
            "an engine made by the factory for a real user context",
        )
        return Emitter(_Context.create("anonymous", "legacy"), SilentSink(), "legacy")


class UserExecutionContext(metaclass=_RedirectMeta):
    """Legacy: accepts ``metadata=``, which becomes ``agent_context``."""

    _canonical = _Context

    def __new__(  # type: ignore[misc]
        cls, *args: Any, metadata: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> _Context:
        if metadata is not None:
            _deprecated(
                "UserExecutionContext(..., metadata=...)",
                "UserExecutionContext(..., agent_context={...}, audit_metadata={...})",
            )
            kwargs.setdefault("agent_context", metadata)
        else:
            _deprecated("goldpath.compat.UserExecutionContext", "goldpath.UserExecutionContext")
        return _Context(*args, **kwargs)


def __getattr__(name: str) -> object:
    """Old import paths of canonical names: ``from goldpath.compat import X``."""
    if name in goldpath.__all__:
        warnings.warn(
            f"goldpath.compat.{name} is deprecated; use goldpath.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(goldpath, name)
    raise AttributeError(f"module 'goldpath.compat' has no attribute {name!r}")
