"""OpenTelemetry traces (``goldpath[otel]``): imported only when ``GOLDPATH_TRACING`` is on.

Spans follow the GenAI semantic conventions: ``invoke_agent {agent}`` per run,
``chat {model}`` per model call and ``execute_tool {tool}`` per tool call, children of the
run's span, which is a child of the HTTP request that started the run or of the
``traceparent`` its chat frame carried. HTTP and WebSocket requests get their spans from
the ASGI instrumentation. The provider is this app's own (no process-global one is set);
it exports over OTLP/HTTP, configured by the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from goldpath._version import __version__
from goldpath.context import UserExecutionContext
from goldpath.engine import RunOutcome, RunWatch
from goldpath.errors import ConfigurationError
from goldpath.events import Event, EventData, EventSink, ToolCompleted, ToolExecuting
from goldpath.models import ChatModel, Message, ModelOutput

__all__ = ["TRACEPARENT", "Tracing"]

TRACEPARENT = "traceparent"
"""The key of a chat frame's W3C trace context in the run's ``audit_metadata``."""

_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    """This app's tracer provider, the engine's `RunObserver`, and the ASGI middleware."""

    __slots__ = ("_exporter", "messages", "provider", "tracer", "user_ids")

    def __init__(
        self,
        provider: TracerProvider,
        *,
        user_ids: bool = False,
        messages: bool = False,
        exporter: str = "none",
    ) -> None:
        self.provider = provider
        self._exporter = exporter
        self.tracer = provider.get_tracer("goldpath", __version__)
        self.user_ids = user_ids
        """Put the user's id on run spans (``enduser.id``)."""
        self.messages = messages
        """Put message text on spans (``gen_ai.input.messages`` / ``gen_ai.output.messages``)."""

    @classmethod
    def from_environment(cls, *, user_ids: bool, messages: bool) -> Tracing:
        """A provider exporting as ``OTEL_TRACES_EXPORTER`` says: ``otlp`` (the default;
        OTLP/HTTP, ``OTEL_EXPORTER_OTLP_*``) or ``none``. ``OTEL_SERVICE_NAME`` and
        ``OTEL_RESOURCE_ATTRIBUTES`` name the service (``goldpath`` by default)."""
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "goldpath"}))
        exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
        if exporter not in ("otlp", "none"):
            raise ConfigurationError(
                f"OTEL_TRACES_EXPORTER is {exporter!r}; goldpath exports 'otlp' (OTLP/HTTP) "
                "or 'none'"
            )
        provider = TracerProvider(resource=resource)
        return cls(provider, user_ids=user_ids, messages=messages, exporter=exporter)

    def instrument(self, app: FastAPI) -> None:
        """A span per HTTP request and per WebSocket connection (not per frame)."""
        app.add_middleware(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            exclude_spans=["receive", "send"],
        )

    def start(self) -> None:
        """Start exporting (the app's start-up: no thread runs for an app never started)."""
        if self._exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

    def close(self) -> None:
        """Export what is pending and stop (the app's shutdown)."""
        self.provider.shutdown()

    def watch(self, context: UserExecutionContext, agent: str) -> RunWatch:
        parent: Context | None = None
        carried = context.audit_metadata.get(TRACEPARENT)
        if isinstance(carried, str):
            parent = _PROPAGATOR.extract({TRACEPARENT: carried})
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": context.thread_id,
            "goldpath.run_id": context.run_id,
            "goldpath.thread_id": context.thread_id,
        }
        if self.user_ids:
            attributes["enduser.id"] = context.user_id
        span = self.tracer.start_span(
            f"invoke_agent {agent}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes
        )
        return _RunTrace(self, span)


class _RunTrace:
    """One run's spans: its own, and those of its tool calls, opened and closed by the
    ``tool_executing`` and ``tool_completed`` events it writes."""

    __slots__ = ("_in_run", "_sink", "_span", "_tools", "_tracing")

    def __init__(self, tracing: Tracing, span: Span) -> None:
        self._tracing = tracing
        self._span = span
        self._in_run = trace.set_span_in_context(span)
        self._tools: dict[str, Span] = {}
        self._sink: EventSink | None = None

    def sink(self, sink: EventSink) -> EventSink:
        self._sink = sink
        return self

    def model(self, model: ChatModel) -> ChatModel:
        self._span.set_attribute("gen_ai.request.model", model.name)
        return _TracedModel(model, self._tracing, self._in_run)

    async def append(
        self, run_id: str, thread_id: str, agent: str, ts: str, data: EventData
    ) -> Event:
        assert self._sink is not None
        if isinstance(data, ToolExecuting):
            self._tools[data.call_id] = self._tracing.tracer.start_span(
                f"execute_tool {data.tool}",
                context=self._in_run,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": data.tool,
                    "gen_ai.tool.call.id": data.call_id,
                },
            )
        elif isinstance(data, ToolCompleted):
            span = self._tools.pop(data.call_id, None)
            if span is not None:
                if not data.ok:
                    span.set_status(Status(StatusCode.ERROR, "the tool call failed"))
                span.end()
        return await self._sink.append(run_id, thread_id, agent, ts, data)

    def finished(self, outcome: RunOutcome) -> None:
        span = self._span
        span.set_attribute("goldpath.run.status", outcome.status)
        if outcome.usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", outcome.usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", outcome.usage.output_tokens)
        if self._tracing.messages and outcome.text is not None:
            span.set_attribute(
                "gen_ai.output.messages", _messages_json([("assistant", outcome.text)])
            )
        if outcome.status not in ("ok", "cancelled", "waiting"):
            span.set_status(Status(StatusCode.ERROR, outcome.error or outcome.status))
        for tool in self._tools.values():  # calls the run's end cut short
            tool.end()
        self._tools.clear()
        span.end()


class _TracedModel:
    """A model whose every call is a ``chat`` span in the run."""

    __slots__ = ("_in_run", "_model", "_tracing")

    def __init__(self, model: ChatModel, tracing: Tracing, in_run: Context) -> None:
        self._model = model
        self._tracing = tracing
        self._in_run = in_run

    @property
    def name(self) -> str:
        return self._model.name

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": self._model.name,
        }
        if self._tracing.messages:
            attributes["gen_ai.input.messages"] = _messages_json(
                [(m.role, m.content) for m in messages]
            )
        span = self._tracing.tracer.start_span(
            f"chat {self._model.name}",
            context=self._in_run,
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        try:
            async for output in self._model.stream(messages, tools):
                yield output
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()


def _messages_json(messages: Sequence[tuple[str, str]]) -> str:
    return json.dumps([{"role": role, "content": content} for role, content in messages])
