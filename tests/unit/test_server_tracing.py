"""The run's spans when things fail: a failing tool, a failing model, a cut-short tool call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from tests.helpers import make_context

from goldpath.engine import RunLimits
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import Message, ModelOutput, ToolCall
from goldpath.server._tracing import Tracing
from goldpath.stream import InMemoryStreamHub
from goldpath.tools import Tool

pytestmark = pytest.mark.unit


async def broken_tool(x: int) -> int:
    """Fails every time."""
    raise RuntimeError("tool bug")


async def slow_tool(x: int) -> int:
    """Takes longer than any run here may."""
    await asyncio.sleep(60)
    return x


class _Model:
    """Calls ``tool`` once, then fails on the next turn."""

    def __init__(self, tool: str) -> None:
        self._tool = tool

    @property
    def name(self) -> str:
        return "failing"

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        if messages[-1].role != "tool":
            yield ToolCall("call_1", self._tool, {"x": 1})
            return
        raise RuntimeError("model bug")


def _traced(tool: Tool, limits: RunLimits | None = None) -> tuple[ExecutionEngineFactory, Any]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    factory = ExecutionEngineFactory(
        streams=InMemoryStreamHub(),
        model=_Model(tool.name),
        tools=[tool],
        limits=limits,
        observer=Tracing(provider),
    )
    return factory, spans


def _by_name(spans: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name.split()[0]: span for span in spans.get_finished_spans()}


async def test_a_failing_tool_and_model_mark_their_spans_and_the_run_failed() -> None:
    factory, spans = _traced(Tool.from_function(broken_tool))
    async with factory.user_execution_engine(make_context()) as engine:
        outcome = await engine.run("supervisor", "go")
    assert outcome.status == "error"
    found = _by_name(spans)
    assert found["execute_tool"].status.status_code is StatusCode.ERROR
    chats = [s for s in spans.get_finished_spans() if s.name == "chat failing"]
    assert [c.status.status_code for c in chats] == [StatusCode.UNSET, StatusCode.ERROR]
    assert found["invoke_agent"].status.status_code is StatusCode.ERROR
    assert (found["invoke_agent"].attributes or {})["goldpath.run.status"] == "error"


async def test_a_tool_call_the_run_cut_short_still_ends_its_span() -> None:
    factory, spans = _traced(
        Tool.from_function(slow_tool), RunLimits(run_timeout=0.2, tool_timeout=30)
    )
    async with factory.user_execution_engine(make_context()) as engine:
        outcome = await engine.run("supervisor", "go")
    assert outcome.status == "timeout"
    found = _by_name(spans)
    assert found["execute_tool"].end_time is not None
    assert found["invoke_agent"].status.status_code is StatusCode.ERROR
