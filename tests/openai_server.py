"""A local OpenAI-compatible chat-completions server for tests: the vendor boundary, faked.

A real HTTP/1.1 server on 127.0.0.1 (port chosen by the OS), running on the test's event
loop. Each ``POST /v1/chat/completions`` plays the next scripted response, streamed as
server-sent events in the real chunk schema, and is recorded for the test to inspect::

    async with OpenAITestServer(tool_call_stream(...), text_stream("391")) as server:
        model = OpenAIChatModel(base_url=server.base_url, api_key="test", model="test-model")
        ...
        assert server.requests[0].body["tools"][0]["function"]["name"] == "calculator"

`forbid_remote_model_calls(monkeypatch)` makes any HTTP request of the client that does not
go to 127.0.0.1 fail the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeAlias

import httpx
import httpx2
import pytest

__all__ = [
    "ChatStream",
    "ErrorResponse",
    "OpenAITestServer",
    "RecordedRequest",
    "Response",
    "chunk",
    "forbid_remote_model_calls",
    "text_stream",
    "tool_call_delta",
    "tool_call_stream",
    "usage_chunk",
]

_MODEL = "test-model"
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass(frozen=True, slots=True)
class ChatStream:
    """A 200 streamed answer: each chunk one SSE event, then ``data: [DONE]`` if ``done``.

    ``drop`` closes the connection after the chunks, mid-body, as a failing network would.
    """

    chunks: tuple[dict[str, Any], ...]
    done: bool = True
    drop: bool = False


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An HTTP error with the OpenAI error body; ``headers`` e.g. ``retry-after-ms``."""

    status: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


Response: TypeAlias = ChatStream | ErrorResponse


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


def chunk(delta: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with a single choice."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": _MODEL,
        "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish_reason}],
    }


def usage_chunk(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The last chunk of a stream asked for with ``include_usage``: no choices, the counts."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": _MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def text_stream(
    *pieces: str, finish_reason: str | None = "stop", usage: tuple[int, int] | None = None
) -> ChatStream:
    """An answer streamed in ``pieces``; ``finish_reason=None`` never finishes it; ``usage``
    (prompt, completion tokens) adds the usage chunk at the end."""
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    if finish_reason is not None:
        chunks.append(chunk({}, finish_reason))
    if usage is not None:
        chunks.append(usage_chunk(*usage))
    return ChatStream(tuple(chunks), done=finish_reason is not None)


def tool_call_delta(
    index: int, *, id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, Any]:
    """A chunk carrying one fragment of the tool call at ``index``."""
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    if name is not None:
        call["function"]["name"] = name
    return chunk({"tool_calls": [call]})


def tool_call_stream(
    *calls: tuple[str, str, str], pieces: int = 3, usage: tuple[int, int] | None = None
) -> ChatStream:
    """Calls ``(id, name, arguments JSON)``, each opened then its arguments sent in
    ``pieces`` fragments, the calls' fragments interleaved by index; ``usage`` as in
    `text_stream`."""
    chunks = [chunk({"role": "assistant", "content": None})]
    chunks += [tool_call_delta(i, id=id, name=name) for i, (id, name, _) in enumerate(calls)]
    for part in range(pieces):
        for index, (_, _, arguments) in enumerate(calls):
            size = -(-len(arguments) // pieces)
            fragment = arguments[part * size : (part + 1) * size]
            if fragment:
                chunks.append(tool_call_delta(index, arguments=fragment))
    chunks.append(chunk({}, "tool_calls"))
    if usage is not None:
        chunks.append(usage_chunk(*usage))
    return ChatStream(tuple(chunks))


class OpenAITestServer:
    """Plays scripted responses in order; ``requests`` records what the client sent."""

    def __init__(self, *responses: Response) -> None:
        self._script: deque[Response] = deque(responses)
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._port = 0
        self.requests: list[RecordedRequest] = []

    def script(self, *responses: Response) -> None:
        """Queue more responses after those already scripted."""
        self._script.extend(responses)

    @property
    def base_url(self) -> str:
        """The URL to give the client, ending in ``/v1`` as real endpoints do."""
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def chat_requests(self) -> list[Any]:
        """The JSON bodies sent to ``/v1/chat/completions``, in order."""
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    async def __aenter__(self) -> OpenAITestServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in tuple(self._writers):
            writer.close()  # each handler sees the end of its connection and returns
        async with asyncio.timeout(5):
            await asyncio.gather(*self._handlers)
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self._writers.add(writer)
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                if not await self._respond(writer, request):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, as clients do
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(handler)

    async def _respond(self, writer: asyncio.StreamWriter, request: RecordedRequest) -> bool:
        """Answer one request; False when the connection must be dropped."""
        if request.method != "POST" or request.path != "/v1/chat/completions":
            response: Response = ErrorResponse(404, f"no route {request.method} {request.path}")
        elif not self._script:
            response = ErrorResponse(400, "the test server has no scripted response left")
        else:
            response = self._script.popleft()
        if isinstance(response, ErrorResponse):
            body = json.dumps(
                {"error": {"message": response.message, "type": "test_error", "code": None}}
            ).encode()
            headers = {"content-type": "application/json", "content-length": str(len(body))}
            writer.write(_head(response.status, {**headers, **response.headers}) + body)
            await writer.drain()
            return True
        writer.write(
            _head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
        )
        events = [f"data: {json.dumps(c)}\n\n" for c in response.chunks]
        if response.done:
            events.append("data: [DONE]\n\n")
        for event in events:
            data = event.encode()
            writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            await writer.drain()
        if response.drop:
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    return RecordedRequest(method, path, headers, json.loads(raw) if raw else None)


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def forbid_remote_model_calls(monkeypatch: pytest.MonkeyPatch, hosts: Iterable[str] = ()) -> None:
    """Fail the test if an HTTP client (httpx2 or httpx, as the openai client uses) sends a
    request anywhere but 127.0.0.1 or ``hosts``."""
    allowed = frozenset({"127.0.0.1", *hosts})
    for client in (httpx2.AsyncClient, httpx.AsyncClient):
        monkeypatch.setattr(client, "send", _local_only(client.send, allowed))


def _local_only(
    send: Callable[..., Awaitable[Any]], allowed: frozenset[str]
) -> Callable[..., Awaitable[Any]]:
    async def local_send(self: Any, request: Any, **kwargs: Any) -> Any:
        if request.url.host not in allowed:
            pytest.fail(f"a test sent a request to {request.url}; only 127.0.0.1 is allowed")
        return await send(self, request, **kwargs)

    return local_send
