"""The `goldpath` command-line application that every subcommand module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="goldpath",
    help="Run AI agents for many users at once and stream every step, live, to its own user.",
    no_args_is_help=True,
    add_completion=False,
)
