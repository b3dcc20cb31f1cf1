"""How the `goldpath` command fails: one line on stderr and an exit code, never a traceback.

Exit code 2 is a usage or configuration error (a bad option, a missing extra, a missing
key: fix the command or the settings), 1 a failure at run time (a port in use, a server
that cannot be reached). Tracebacks are shown only with ``goldpath --debug`` or
``GOLDPATH_LOG_LEVEL=debug``.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from goldpath.errors import ConfigurationError, GoldpathError

__all__ = [
    "FAILURE",
    "USAGE",
    "command_name",
    "debugging",
    "explain",
    "fail",
    "install_hint",
    "report",
]

USAGE = 2
FAILURE = 1

_EXTRAS = {
    "libcst": "ssot",
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "sqlalchemy": "server",
    "alembic": "server",
    "argon2": "server",
    "jwt": "server",
    "multipart": "server",
    "httpx": "server",
    "websockets": "server",
    "pydantic_settings": "server",
    "fastapi_offline": "server",
    "asyncpg": "postgres",
    "redis": "redis",
    "openai": "openai",
    "mcp": "mcp",
    "prometheus_client": "metrics",
    "opentelemetry": "otel",
}
"""The extra that installs each optional top-level package goldpath imports."""


def debugging() -> bool:
    """True with ``--debug`` (which sets it) or ``GOLDPATH_LOG_LEVEL=debug``."""
    return os.environ.get("GOLDPATH_LOG_LEVEL", "").strip().lower() == "debug"


def fail(message: str, code: int = FAILURE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def install_hint(module: str) -> str | None:
    """``pip install 'goldpath[extra]'`` for an optional package, None for any other."""
    extra = _EXTRAS.get(module.partition(".")[0])
    return None if extra is None else f"pip install 'goldpath[{extra}]'"


def explain(exc: Exception, command: str) -> tuple[str, int]:
    """The line to print and the exit code for an error no command handled itself."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        hint = install_hint(exc.name)
        if hint is not None:
            return f"{command} needs the {exc.name.partition('.')[0]} package: {hint}", USAGE
    if isinstance(exc, ConfigurationError):
        return str(exc), USAGE
    if isinstance(exc, GoldpathError):
        return str(exc), FAILURE
    return (
        f"{command} failed: {type(exc).__name__}: {exc} (goldpath --debug shows the traceback)",
        FAILURE,
    )


def command_name(command: object, args: list[str]) -> str:
    """``goldpath user add`` for ``["user", "add", "ann"]``: the words that name a command
    of ``command`` (the click group of the app)."""
    words = ["goldpath"]
    for arg in args:
        if arg.startswith("-"):
            continue
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        words.append(arg)
        command = sub
    return " ".join(words)


def report(exc: Exception, group: object) -> NoReturn:
    """Print ``exc`` as `explain` says and exit; the caller re-raises instead when debugging."""
    message, code = explain(exc, command_name(group, sys.argv[1:]))
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
