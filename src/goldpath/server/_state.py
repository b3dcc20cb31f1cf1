"""What the running app holds, in one typed object, and how routes reach it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from goldpath.factory import ExecutionEngineFactory
from goldpath.server._auth import Authenticator
from goldpath.server._caps import Caps
from goldpath.server._recorder import EventRecorder
from goldpath.server._runs import RunService
from goldpath.server._settings import Settings
from goldpath.store import Store
from goldpath.stream import StreamHub

__all__ = ["AppState", "app_state"]


@dataclass(frozen=True, slots=True)
class AppState:
    """Made by the app's lifespan at start-up, closed at shutdown; never a module global."""

    settings: Settings
    store: Store
    hub: StreamHub
    factory: ExecutionEngineFactory
    auth: Authenticator
    runs: RunService
    caps: Caps
    recorder: EventRecorder


def app_state(connection: HTTPConnection) -> AppState:
    """The state of the app serving this request or WebSocket."""
    state: AppState = connection.app.state.goldpath
    return state
