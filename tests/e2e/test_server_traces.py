"""OpenTelemetry traces: a run's spans with the GenAI attributes, joined to the request's
trace or to the chat frame's ``traceparent``, exported in memory and over OTLP/HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from goldpath.errors import ConfigurationError
from goldpath.server import create_app
from goldpath.server._tracing import Tracing
from tests.e2e.conftest import TestModel, make_settings, new_user, open_ws, running

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
QUESTION = "What is 17 * 23?"


def _traced(tmp_path: Path, **settings: Any) -> tuple[Any, InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    app = create_app(make_settings(tmp_path, tracing=True, **settings), model=TestModel())
    tracing = app.state.tracing
    assert isinstance(tracing, Tracing)
    tracing.provider.add_span_processor(SimpleSpanProcessor(spans))
    return app, spans


def _named(spans: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name.startswith(prefix)]


@pytest.fixture(autouse=True)
def _no_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")  # tests here read the spans in memory


async def test_a_run_has_its_spans_with_the_genai_attributes_and_no_private_data(
    tmp_path: Path,
) -> None:
    app, spans = _traced(tmp_path)
    with running(make_settings(tmp_path, tracing=True), app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat(QUESTION)
                await ws.run_to_end(accepted["run_id"])
    (run,) = _named(spans, "invoke_agent")
    assert run.name == "invoke_agent supervisor"
    attributes = dict(run.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "supervisor"
    assert attributes["gen_ai.request.model"] == "test"
    assert attributes["goldpath.run_id"] == accepted["run_id"]
    assert attributes["goldpath.thread_id"] == accepted["thread_id"]
    assert attributes["goldpath.run.status"] == "ok"
    chats = _named(spans, "chat ")
    assert len(chats) == 2  # the tool call, then the answer
    (tool,) = _named(spans, "execute_tool")
    assert tool.name == "execute_tool calculator"
    assert (tool.attributes or {})["gen_ai.tool.name"] == "calculator"
    for child in (*chats, tool):
        assert child.parent is not None
        assert child.parent.span_id == run.context.span_id
    assert all((c.attributes or {})["gen_ai.operation.name"] == "chat" for c in chats)
    everything = str([dict(s.attributes or {}) for s in spans.get_finished_spans()])
    assert user.user_id not in everything
    assert "17 * 23" not in everything


async def test_settings_allow_the_user_id_and_the_messages(tmp_path: Path) -> None:
    allowed = {"trace_user_ids": True, "trace_messages": True, "metrics": True}
    settings = make_settings(tmp_path, tracing=True, **allowed)
    app, spans = _traced(tmp_path, **allowed)
    with running(settings, app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat(QUESTION)
                await ws.run_to_end(accepted["run_id"])
            scraped = (await http.get("/metrics")).text
    (run,) = _named(spans, "invoke_agent")
    assert (run.attributes or {})["enduser.id"] == user.user_id
    assert "391" in str((run.attributes or {})["gen_ai.output.messages"])
    first_chat = _named(spans, "chat ")[0]
    assert QUESTION in str((first_chat.attributes or {})["gen_ai.input.messages"])
    assert "goldpath_runs_total" in scraped  # metrics and traces watch the same runs


def test_an_exporter_goldpath_does_not_have_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER is 'zipkin'"):
        create_app(make_settings(tmp_path, tracing=True))


async def test_the_run_joins_the_chat_frames_trace(tmp_path: Path) -> None:
    app, spans = _traced(tmp_path)
    with running(make_settings(tmp_path, tracing=True), app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat(QUESTION, traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01")
                await ws.run_to_end(accepted["run_id"])
                await ws.send({"type": "chat", "message": "hi", "traceparent": "not-a-trace"})
                refused = await ws.recv()
    assert refused["type"] == "error"
    assert refused["code"] == "bad_request"
    (run,) = _named(spans, "invoke_agent")
    assert f"{run.context.trace_id:032x}" == TRACE_ID
    assert run.parent is not None
    assert f"{run.parent.span_id:016x}" == PARENT_ID


async def test_the_run_joins_the_http_requests_trace(tmp_path: Path) -> None:
    app, spans = _traced(tmp_path)
    with running(make_settings(tmp_path, tracing=True), app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                await ws.send({"type": "ping"})  # live delivery starts with a first frame
                assert await ws.recv() == {"type": "pong"}
                thread = (await http.post("/threads", headers=user.headers, json={})).json()
                answer = await http.post(
                    f"/threads/{thread['thread_id']}/runs",
                    headers={**user.headers, "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
                    json={"message": QUESTION},
                )
                assert answer.status_code == 202
                await ws.run_to_end(answer.json()["run_id"])
    (run,) = _named(spans, "invoke_agent")
    requests = [s for s in spans.get_finished_spans() if s.name.startswith("POST /threads/")]
    (request,) = requests
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert run.context.trace_id == request.context.trace_id
    assert run.parent is not None
    assert run.parent.span_id == request.context.span_id


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps each export request's spans."""

    received: list[ExportTraceServiceRequest]
    arrived: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            type(self).received.append(request)
            type(self).arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "arrived": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


async def test_spans_are_exported_over_otlp_http_as_the_otel_variables_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, type[_Receiver]]
) -> None:
    endpoint, handler = receiver
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "goldpath-test")
    settings = make_settings(tmp_path, tracing=True)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat(QUESTION)
                await ws.run_to_end(accepted["run_id"])
    # The server's shutdown flushed the batch.
    assert await asyncio.to_thread(handler.arrived.wait, 10)
    names = set()
    services = set()
    for request in handler.received:
        for resource_spans in request.resource_spans:
            services |= {
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            }
            for scope_spans in resource_spans.scope_spans:
                names |= {span.name for span in scope_spans.spans}
    assert services == {"goldpath-test"}
    assert {"invoke_agent supervisor", "chat test", "execute_tool calculator"} <= names
    assert "POST /auth/login" in names  # the ASGI instrumentation's
