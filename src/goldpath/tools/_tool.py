"""A tool: a typed async Python function, with the JSON schema its signature implies."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, overload

from goldpath.context import UserExecutionContext
from goldpath.errors import ConfigurationError, ToolDefinitionError
from goldpath.tools._schema import ArgumentError, Check, check_for, schema_for

__all__ = ["Tool", "tool", "tool_table"]

ToolFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    check: Check
    required: bool
    default: Any


@dataclass(frozen=True, slots=True)
class Tool:
    """A function a model may call, described by name, description and JSON schema.

    If the function's first parameter is annotated `UserExecutionContext`, the run's
    context is passed to it, read-only; the model never sees or sets that parameter.

    A tool made `from_schema` (an MCP server's) has no Python signature: its function is
    called with the context and the arguments as one mapping, and whoever runs it checks
    them against the schema.

    ``requires_approval``: every call waits for a person to approve it (docs/approvals.md).
    """

    name: str
    description: str
    function: ToolFunction
    parameters: Mapping[str, Any]
    takes_context: bool
    timeout: float | None
    _params: tuple[_Parameter, ...] | None
    requires_approval: bool = False
    _spec: Mapping[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: every run hands the same description to the model.
        spec = {"name": self.name, "description": self.description, "parameters": self.parameters}
        object.__setattr__(self, "_spec", spec)

    @classmethod
    def from_function(
        cls,
        function: ToolFunction,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> Tool:
        if not inspect.iscoroutinefunction(function):
            raise ToolDefinitionError(
                f"tool {function.__name__!r} must be an async function (async def)"
            )
        try:
            hints = typing.get_type_hints(function)
        except NameError as exc:
            raise ToolDefinitionError(
                f"tool {function.__name__!r} has an annotation that cannot be resolved: {exc}"
            ) from None
        signature = inspect.signature(function)
        params = list(signature.parameters.values())
        takes_context = bool(params) and hints.get(params[0].name) is UserExecutionContext
        if takes_context:
            params = params[1:]
        properties: dict[str, Any] = {}
        required: list[str] = []
        checked: list[_Parameter] = []
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"tool {function.__name__!r}: *args and **kwargs cannot be described to a "
                    "model; name every parameter"
                )
            if param.name not in hints:
                raise ToolDefinitionError(
                    f"tool {function.__name__!r}: parameter {param.name!r} needs a type annotation"
                )
            annotation = hints[param.name]
            properties[param.name] = schema_for(annotation)
            is_required = param.default is inspect.Parameter.empty
            if is_required:
                required.append(param.name)
            else:
                properties[param.name]["default"] = param.default
            checked.append(
                _Parameter(param.name, check_for(annotation), is_required, param.default)
            )
        doc = inspect.getdoc(function) or ""
        return cls(
            name=name or function.__name__,
            description=description if description is not None else doc.split("\n\n")[0],
            function=function,
            parameters={
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
            takes_context=takes_context,
            timeout=timeout,
            _params=tuple(checked),
            requires_approval=requires_approval,
        )

    @classmethod
    def from_schema(
        cls,
        *,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        function: Callable[[UserExecutionContext, dict[str, Any]], Awaitable[Any]],
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> Tool:
        """A tool described by a JSON schema rather than a signature (an MCP server's)."""
        return cls(
            name=name,
            description=description,
            function=function,
            parameters=parameters,
            takes_context=True,
            timeout=timeout,
            _params=None,
            requires_approval=requires_approval,
        )

    def spec(self) -> Mapping[str, Any]:
        """What a chat model is told about this tool (shared by every run: do not change it)."""
        return self._spec

    def bind(self, arguments: object) -> dict[str, Any]:
        """The keyword arguments for the function; `ArgumentError` says what the model got wrong."""
        if not isinstance(arguments, Mapping):
            raise ArgumentError(
                f"the arguments of {self.name!r} must be a JSON object, "
                f"not {type(arguments).__name__}"
            )
        if self._params is None:
            return dict(arguments)
        known = {p.name for p in self._params}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise ArgumentError(
                f"{self.name!r} has no argument {', '.join(map(repr, unknown))}; "
                f"it takes {', '.join(sorted(known)) or 'no arguments'}"
            )
        kwargs: dict[str, Any] = {}
        for param in self._params:
            if param.name in arguments:
                kwargs[param.name] = param.check(arguments[param.name], param.name)
            elif param.required:
                raise ArgumentError(f"{self.name!r} needs the argument {param.name!r}")
        return kwargs

    async def invoke(self, context: UserExecutionContext, kwargs: Mapping[str, Any]) -> Any:
        if self._params is None:
            return await self.function(context, dict(kwargs))
        if self.takes_context:
            return await self.function(context, **kwargs)
        return await self.function(**kwargs)


@overload
def tool(function: ToolFunction, /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Callable[[ToolFunction], Tool]: ...
def tool(
    function: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Make a `Tool` of an async function: ``@tool`` or ``@tool(name=..., timeout=...)``.

    The description is the first paragraph of the docstring unless given;
    ``requires_approval=True`` makes every call wait for a person's approval.
    """
    if function is not None:
        return Tool.from_function(function)

    def decorate(fn: ToolFunction) -> Tool:
        return Tool.from_function(
            fn,
            name=name,
            description=description,
            timeout=timeout,
            requires_approval=requires_approval,
        )

    return decorate


def tool_table(tools: Iterable[Tool]) -> Mapping[str, Tool]:
    """The tools by name, read-only: `ToolDefinitionError` for an item that is not a `Tool`,
    `ConfigurationError` for two tools with one name."""
    by_name: dict[str, Tool] = {}
    for index, given in enumerate(tools):
        item: object = given  # typed as a Tool, but callers may pass anything: check it
        if not isinstance(item, Tool):
            what = getattr(item, "__name__", None) or type(item).__name__
            raise ToolDefinitionError(
                f"tools[{index}] is {what!r}, not a Tool; decorate the function with @tool"
            )
        if item.name in by_name:
            raise ConfigurationError(f"two tools are named {item.name!r}; rename one")
        by_name[item.name] = item
    return MappingProxyType(by_name)
