"""The `goldpath` command: each subcommand lives in its own private module."""

from __future__ import annotations

import typer

from goldpath.cli import (
    _chat,  # noqa: F401
    _serve,  # noqa: F401
    _ssot,  # noqa: F401
    _users,  # noqa: F401
)
from goldpath.cli._app import app
from goldpath.cli._errors import debugging, report

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `goldpath` console script: errors are one line, not a traceback."""
    try:
        app()
    except Exception as exc:
        if debugging():
            raise
        report(exc, typer.main.get_command(app))
