"""The engine's `RunObserver` made of the server's observers (metrics, traces), if any."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from goldpath.context import UserExecutionContext
from goldpath.engine import RunObserver, RunOutcome, RunWatch
from goldpath.events import EventSink
from goldpath.models import ChatModel
from goldpath.server._metrics import Metrics, PrometheusMetrics
from goldpath.server._settings import Settings

if TYPE_CHECKING:
    from goldpath.server._tracing import Tracing

__all__ = ["combine", "open_tracing", "run_observer"]


def run_observer(metrics: Metrics, tracing: Tracing | None) -> RunObserver | None:
    """What the factory hands the engine: the traces and the metrics that are on, if any."""
    observers: list[RunObserver] = [] if tracing is None else [tracing]
    if isinstance(metrics, PrometheusMetrics):
        observers.append(metrics)
    return combine(observers)


def combine(observers: Sequence[RunObserver]) -> RunObserver | None:
    """None for none (the engine then does nothing more), the one, or all of them in order."""
    if len(observers) <= 1:
        return observers[0] if observers else None
    return _All(tuple(observers))


class _All:
    __slots__ = ("_observers",)

    def __init__(self, observers: tuple[RunObserver, ...]) -> None:
        self._observers = observers

    def watch(self, context: UserExecutionContext, agent: str) -> RunWatch:
        return _AllWatch(tuple(o.watch(context, agent) for o in self._observers))


class _AllWatch:
    __slots__ = ("_watches",)

    def __init__(self, watches: tuple[RunWatch, ...]) -> None:
        self._watches = watches

    def sink(self, sink: EventSink) -> EventSink:
        for watch in self._watches:
            sink = watch.sink(sink)
        return sink

    def model(self, model: ChatModel) -> ChatModel:
        for watch in self._watches:
            model = watch.model(model)
        return model

    def finished(self, outcome: RunOutcome) -> None:
        for watch in self._watches:
            watch.finished(outcome)


def open_tracing(settings: Settings) -> Tracing | None:
    """The app's tracing when ``GOLDPATH_TRACING`` is on (OpenTelemetry is imported only then)."""
    if not settings.tracing:
        return None
    from goldpath.server._tracing import Tracing

    return Tracing.from_environment(
        user_ids=settings.trace_user_ids, messages=settings.trace_messages
    )
