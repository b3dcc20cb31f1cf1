"""JSON schema and argument checking derived from a tool function's signature.

Only the types a model can send in JSON are accepted, so every tool's schema is exact and
its arguments are checked without a validation library on the hot path.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal, Union

from goldpath.errors import ToolDefinitionError

__all__ = ["ArgumentError", "Check", "check_for", "schema_for"]

Check = Callable[[Any, str], Any]
"""Returns the checked value, or raises ArgumentError naming the argument path."""


class ArgumentError(ValueError):
    """A model sent an argument of the wrong type; the message is shown to the model."""


_JSON_TYPES: Mapping[type, str] = MappingProxyType(
    {str: "string", int: "integer", float: "number", bool: "boolean"}
)


def schema_for(annotation: Any) -> dict[str, Any]:
    """The JSON schema of one annotation; `ToolDefinitionError` for types JSON cannot carry."""
    if annotation is Any:
        return {}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1 and len(args) == 2:
            return {"anyOf": [schema_for(options[0]), {"type": "null"}]}
        return {"anyOf": [schema_for(a) for a in args]}
    if origin is list:
        return {"type": "array", "items": schema_for(args[0]) if args else {}}
    if origin is dict and (not args or args[0] is str):
        return {"type": "object", "additionalProperties": schema_for(args[1]) if args else {}}
    if annotation is type(None):
        return {"type": "null"}
    raise ToolDefinitionError(
        f"a tool parameter cannot be {annotation!r}: use str, int, float, bool, Literal, "
        "list[...], dict[str, ...], Optional[...] or Any"
    )


def _wrong(path: str, expected: str, value: Any) -> ArgumentError:
    return ArgumentError(f"argument {path!r} must be {expected}, not {type(value).__name__}")


def _check_str(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        raise _wrong(path, "a string", value)
    return value


def _check_int(value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _wrong(path, "an integer", value)
    return value


def _check_float(value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(path, "a number", value)
    return float(value)


def _check_bool(value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        raise _wrong(path, "true or false", value)
    return value


def _check_any(value: Any, path: str) -> Any:
    return value


def _check_none(value: Any, path: str) -> Any:
    if value is not None:
        raise _wrong(path, "null", value)
    return value


_SIMPLE: Mapping[Any, Check] = MappingProxyType(
    {
        str: _check_str,
        int: _check_int,
        float: _check_float,
        bool: _check_bool,
        Any: _check_any,
        type(None): _check_none,
    }
)


def check_for(annotation: Any) -> Check:
    """A checker for values of ``annotation`` (one of the types `schema_for` accepts)."""
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        allowed = args

        def check_literal(value: Any, path: str) -> Any:
            # `True == 1`, so compare types too: a bool is not the literal 1.
            if not any(value == a and type(value) is type(a) for a in allowed):
                raise ArgumentError(f"argument {path!r} must be one of {list(allowed)!r}")
            return value

        return check_literal
    if origin in (Union, types.UnionType):
        options = [check_for(a) for a in args]

        def check_union(value: Any, path: str) -> Any:
            for option in options:
                try:
                    return option(value, path)
                except ArgumentError:
                    continue
            raise ArgumentError(f"argument {path!r} has the wrong type ({type(value).__name__})")

        return check_union
    if origin is list:
        item = check_for(args[0]) if args else _check_any

        def check_list(value: Any, path: str) -> Any:
            if not isinstance(value, list):
                raise _wrong(path, "an array", value)
            return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

        return check_list
    if origin is dict:
        entry = check_for(args[1]) if args else _check_any

        def check_dict(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                raise _wrong(path, "an object", value)
            return {str(k): entry(v, f"{path}.{k}") for k, v in value.items()}

        return check_dict
    schema_for(annotation)  # raises the definition error that explains what is allowed
    raise ToolDefinitionError(f"no checker for {annotation!r}")  # pragma: no cover
