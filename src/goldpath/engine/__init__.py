"""The engine that runs one agent for one user request, and always ends the run cleanly."""

from goldpath.engine._ending import can_pause
from goldpath.engine._engine import UserExecutionEngine
from goldpath.engine._legacy import ProcessEngines, SilentSink, set_process_engines
from goldpath.engine._outcome import (
    OnComplete,
    OnPause,
    OutcomeStatus,
    RunLimits,
    RunObserver,
    RunOutcome,
    RunWatch,
)
from goldpath.engine._paused import PausedRun

__all__ = [
    "OnComplete",
    "OnPause",
    "OutcomeStatus",
    "PausedRun",
    "ProcessEngines",
    "RunLimits",
    "RunObserver",
    "RunOutcome",
    "RunWatch",
    "SilentSink",
    "UserExecutionEngine",
    "can_pause",
    "set_process_engines",
]
