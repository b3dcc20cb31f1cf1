"""The chat model of any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp.

Needs the ``openai`` extra and is imported only when chosen, so ``import goldpath`` does
not pull in the client. Retries and timeouts are the client's own.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

from goldpath.errors import ConfigurationError, ModelError
from goldpath.models._base import Message, ModelOutput, TextDelta, Thought, ToolCall
from goldpath.models._usage import Usage, report_usage

__all__ = ["OpenAIChatModel"]

_NO_KEY = "no-key"  # local servers (vLLM, Ollama, llama.cpp) accept any key by default
_REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM/llama.cpp/DeepSeek; Ollama


class OpenAIChatModel:
    """Streams answers from an OpenAI-compatible chat-completions endpoint.

    Holds only the client and the model name: one instance serves every concurrent run.
    """

    __slots__ = ("_client", "_model", "_owns_client")

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        if not model:
            raise ConfigurationError("the OpenAI model name is empty; set GOLDPATH_OPENAI_MODEL")
        self._model = model
        self._owns_client = client is None
        if client is None:
            if api_key is None and base_url is not None and not os.environ.get("OPENAI_API_KEY"):
                api_key = _NO_KEY
            try:
                client = openai.AsyncOpenAI(
                    api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
                )
            except openai.OpenAIError as exc:
                raise ConfigurationError(
                    f"cannot make the OpenAI client: {exc}; set GOLDPATH_OPENAI_API_KEY, or "
                    "GOLDPATH_OPENAI_BASE_URL for a local server that needs no key"
                ) from None
        self._client = client

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def close(self) -> None:
        """Close the client if this model made it; a client passed in is the caller's."""
        if self._owns_client:
            await self._client.close()

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        calls: dict[int, _PendingCall] = {}
        reasoning: list[str] = []
        usage: Usage | None = None
        started = finished = False
        try:
            chunks = await self._client.chat.completions.create(
                model=self._model,
                messages=[to_api_message(message) for message in messages],
                tools=[to_api_tool(spec) for spec in tools] if tools else openai.omit,
                stream=True,
                # The last chunk then carries the call's token counts (no choices).
                stream_options={"include_usage": True},
            )
            started = True
            async with chunks:
                async for chunk in chunks:
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        thought = _reasoning(choice.delta)
                        if thought:
                            reasoning.append(thought)
                        if reasoning and (choice.delta.content or choice.delta.tool_calls):
                            yield Thought("".join(reasoning))
                            reasoning.clear()
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        for fragment in choice.delta.tool_calls or ():
                            _add_fragment(calls, fragment)
                        if choice.finish_reason is not None:
                            finished = True
        except openai.APIConnectionError as exc:
            raise ModelError(self._stopped() if started else self._describe(exc)) from exc
        except openai.APIError as exc:
            raise ModelError(self._describe(exc)) from exc
        if not finished:
            raise ModelError(self._stopped())
        if reasoning:
            yield Thought("".join(reasoning))
        if usage is not None:
            report_usage(usage.input_tokens, usage.output_tokens)
        for index in sorted(calls):
            yield calls[index].complete()

    def _stopped(self) -> str:
        return (
            "the model's stream stopped before it finished: the endpoint or the network "
            f"dropped the answer of {self._model!r} at {self.base_url}; try again"
        )

    def _describe(self, exc: openai.APIError) -> str:
        """What went wrong, and what to check, for an error of the client."""
        where = f"the model endpoint {self.base_url} (model {self._model!r})"
        if isinstance(exc, openai.APITimeoutError):
            return f"{where} did not answer in time; check that it is up, or raise the timeout"
        if isinstance(exc, openai.APIConnectionError):
            return (
                f"cannot reach {where}: {exc}; check the base URL (GOLDPATH_OPENAI_BASE_URL) "
                "and that the server is running"
            )
        if not isinstance(exc, openai.APIStatusError):
            return f"{where} reported an error while answering: {exc.message}"
        status = exc.status_code
        if status in (401, 403):
            hint = "check the API key (GOLDPATH_OPENAI_API_KEY)"
        elif status == 404:
            hint = (
                "check the model name (GOLDPATH_OPENAI_MODEL) and the base URL "
                "(GOLDPATH_OPENAI_BASE_URL, which usually ends in /v1)"
            )
        elif status == 429:
            hint = "the endpoint is rate limiting or out of quota; wait, or raise the quota"
        elif status >= 500:
            hint = "the endpoint failed even after retries; check its logs and try again"
        else:
            hint = "the endpoint refused the request; check that the model supports tool calls"
        return f"{where} answered HTTP {status}: {_error_message(exc)}; {hint}"


def _error_message(exc: openai.APIStatusError) -> str:
    """The endpoint's own words from an OpenAI-style error body, else the client's message."""
    body = exc.body
    error = body.get("error", body) if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    return message if isinstance(message, str) and message else exc.message


@dataclass(slots=True)
class _PendingCall:
    """One tool call being assembled from the stream's fragments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def complete(self) -> ToolCall:
        """The call, arguments JSON-parsed; unparsable JSON is passed on as the raw text."""
        raw = "".join(self.arguments)
        arguments: Any
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except ValueError:
            arguments = raw
        return ToolCall(self.id or f"call_{uuid.uuid4().hex[:16]}", self.name, arguments)


def _add_fragment(calls: dict[int, _PendingCall], fragment: ChoiceDeltaToolCall) -> None:
    pending = calls.get(fragment.index)
    if pending is None:
        pending = calls[fragment.index] = _PendingCall()
    if fragment.id:
        pending.id = fragment.id
    function = fragment.function
    if function is not None:
        if function.name and function.name != pending.name:  # some servers repeat it
            pending.name += function.name
        if function.arguments:
            pending.arguments.append(function.arguments)


def _reasoning(delta: ChoiceDelta) -> str:
    """The delta's reasoning text, from whichever field this server uses for it."""
    extra = delta.model_extra or {}
    for name in _REASONING_FIELDS:
        value = extra.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def to_api_tool(spec: Mapping[str, Any]) -> ChatCompletionFunctionToolParam:
    """A goldpath tool spec (name, description, parameters) as a chat-completions tool."""
    return {
        "type": "function",
        "function": {
            "name": spec["name"],
            "description": spec.get("description", ""),
            "parameters": spec.get("parameters", {"type": "object", "properties": {}}),
        },
    }


def to_api_tool_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    arguments = call.arguments
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def to_api_message(message: Message) -> ChatCompletionMessageParam:
    """A goldpath `Message` as the chat-completions message dict of its role."""
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ModelError("a tool message needs the tool_call_id of the call it answers")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    param: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        param["content"] = message.content or None
        param["tool_calls"] = [to_api_tool_call(call) for call in message.tool_calls]
    if message.name:
        param["name"] = message.name
    return cast(ChatCompletionMessageParam, param)
