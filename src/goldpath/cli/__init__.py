"""The `goldpath` command: each subcommand lives in its own private module."""

from __future__ import annotations

from goldpath.cli import (
    _chat,  # noqa: F401
    _serve,  # noqa: F401
    _ssot,  # noqa: F401
)
from goldpath.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `goldpath` console script."""
    app()
