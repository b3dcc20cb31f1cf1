"""The `goldpath` command-line application that every subcommand module registers on."""

from __future__ import annotations

import os
from typing import Annotated

import typer

app = typer.Typer(
    name="goldpath",
    help="Run AI agents for many users at once and stream every step, live, to its own user.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: sentences wrap at word boundaries and flags show no "<bool>".
    rich_markup_mode=None,
)


@app.callback()
def options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Log at debug level and show the traceback of any error "
            "(the same as GOLDPATH_LOG_LEVEL=debug).",
        ),
    ] = False,
) -> None:
    """Run AI agents for many users at once and stream every step, live, to its own user."""
    if debug:
        # The server reads its log level from the environment, as every GOLDPATH_ setting.
        os.environ["GOLDPATH_LOG_LEVEL"] = "debug"
