"""Prometheus metrics: what `Metrics` counts, and ``/metrics`` when ``GOLDPATH_METRICS`` is on.

`Metrics` is the interface the server calls; its base class does nothing (metrics off, the
default: prometheus-client is not even imported). `PrometheusMetrics` counts into its own
registry, never the library's global one. With ``PROMETHEUS_MULTIPROC_DIR`` set (one
directory shared by the processes of a node, emptied before they start), prometheus-client
writes each process's values there and ``/metrics`` answers with the sum of all of them,
whichever process answers: that is how ``--workers N`` is scraped (docs/observability.md).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from goldpath.context import UserExecutionContext
from goldpath.engine import RunOutcome, RunWatch
from goldpath.errors import StoreError, StreamError
from goldpath.events import AgentStarted, Event, EventData, EventSink
from goldpath.models import ChatModel

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["LIMITS", "METRIC_NAMES", "Metrics", "PrometheusMetrics", "metrics_of", "serve_metrics"]

LIMITS = {
    "RateLimitedError": "messages_per_minute",
    "TooManyRunsError": "runs_per_user",
    "ThreadLimitedError": "threads_per_minute",
    "LoginLimitedError": "logins",
    "RegistrationLimitedError": "registrations",
    "ToolCallLimitError": "tool_calls",
}
"""The ``limit`` label of ``goldpath_rate_limited_total``, by the error that was answered."""

METRIC_NAMES = (
    "goldpath_ws_connections",
    "goldpath_runs_in_flight",
    "goldpath_runs_total",
    "goldpath_run_duration_seconds",
    "goldpath_first_event_seconds",
    "goldpath_events_total",
    "goldpath_resyncs_total",
    "goldpath_rate_limited_total",
    "goldpath_backend_errors_total",
)
"""Every metric `PrometheusMetrics` exports (the families' names; docs/observability.md)."""

RUN_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_EVENT_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


class Metrics:
    """The server's metrics, off: every method does nothing."""

    def connection_opened(self) -> None:
        pass

    def connection_closed(self) -> None:
        pass

    def resynced(self, reason: str) -> None:
        pass

    def answered(self, exc: BaseException) -> None:
        """An error was answered to a client (HTTP body or ``error`` frame)."""

    def limited(self, limit: str) -> None:
        """A limit refused a client (``connections_per_user``: a /ws closed with 4429)."""

    def close(self) -> None:
        """The process stops serving (the app's shutdown)."""


class PrometheusMetrics(Metrics):
    """The metrics of METRIC_NAMES, in a registry of this app's own; the engine's
    `RunObserver` (`watch`)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge(
            "goldpath_ws_connections",
            "Open /ws connections",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.in_flight = Gauge(
            "goldpath_runs_in_flight",
            "Runs executing now",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.runs = Counter(
            "goldpath_runs",
            "Runs ended, by final status; waiting: paused for approval (its continuation "
            "counts again when it ends)",
            ["status"],
            registry=registry,
        )
        for status in ("ok", "error", "timeout", "cancelled", "waiting"):
            self.runs.labels(status)
        self.duration = Histogram(
            "goldpath_run_duration_seconds",
            "Run duration, agent_started to agent_completed",
            buckets=RUN_SECONDS,
            registry=registry,
        )
        self.first_event = Histogram(
            "goldpath_first_event_seconds",
            "Time from a chat's acceptance to its run's first event in the user's stream",
            buckets=FIRST_EVENT_SECONDS,
            registry=registry,
        )
        self.events = Counter(
            "goldpath_events", "Events written to user streams by runs", registry=registry
        )
        self.resyncs = Counter(
            "goldpath_resyncs", "resync frames sent, by reason", ["reason"], registry=registry
        )
        self.rate_limited = Counter(
            "goldpath_rate_limited",
            "rate_limited answers, by the limit that refused",
            ["limit"],
            registry=registry,
        )
        self.backend_errors = Counter(
            "goldpath_backend_errors",
            "Store and stream backend (Redis) failures answered to clients",
            ["backend"],
            registry=registry,
        )

    def watch(self, context: UserExecutionContext, agent: str) -> RunWatch:
        self.in_flight.inc()
        return _RunMetrics(self, context)

    def connection_opened(self) -> None:
        self.connections.inc()

    def connection_closed(self) -> None:
        self.connections.dec()

    def resynced(self, reason: str) -> None:
        self.resyncs.labels(reason).inc()

    def answered(self, exc: BaseException) -> None:
        if isinstance(exc, StoreError):
            self.backend_errors.labels("store").inc()
        elif isinstance(exc, StreamError):
            self.backend_errors.labels("stream").inc()
        else:
            limit = LIMITS.get(type(exc).__name__)
            if limit is not None:
                self.limited(limit)

    def limited(self, limit: str) -> None:
        self.rate_limited.labels(limit).inc()

    def close(self) -> None:
        """In multiprocess mode, drop this process's live gauges from the sums."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets: this process's metrics, or every process's (multiprocess)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry: CollectorRegistry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _RunMetrics:
    """One run's share of the metrics: its first event's delay, its events, its end."""

    __slots__ = ("_context", "_events", "_metrics", "_sink")

    def __init__(self, metrics: PrometheusMetrics, context: UserExecutionContext) -> None:
        self._metrics = metrics
        self._context = context
        self._events = 0
        self._sink: EventSink | None = None

    def sink(self, sink: EventSink) -> EventSink:
        self._sink = sink
        return self

    def model(self, model: ChatModel) -> ChatModel:
        return model

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        assert self._sink is not None
        event = await self._sink.append(run_id, thread_id, agent, ts, data)
        if not self._events and isinstance(data, AgentStarted):
            accepted = self._context.created_at.timestamp()
            self._metrics.first_event.observe(max(0.0, time.time() - accepted))
        self._events += 1
        return event

    def finished(self, outcome: RunOutcome) -> None:
        metrics = self._metrics
        metrics.in_flight.dec()
        metrics.runs.labels(outcome.status).inc()
        metrics.duration.observe(outcome.duration_ms / 1000)
        metrics.events.inc(self._events + 1)  # and agent_completed, sent next


def metrics_of(connection: HTTPConnection) -> Metrics:
    """The metrics of the app serving this request or WebSocket."""
    metrics: Metrics = connection.app.state.metrics
    return metrics


async def serve_metrics(request: Request) -> Response:
    """``GET /metrics``, mounted only when metrics are on."""
    metrics = metrics_of(request)
    assert isinstance(metrics, PrometheusMetrics)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
