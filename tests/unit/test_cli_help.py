"""Every `goldpath` help text reads cleanly: no ``<bool>``, a named metavar for every option
value (``--url URL``, not ``--url <str>``), and no command summary cut off mid-sentence in
a command list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from goldpath.cli import app

pytestmark = pytest.mark.unit


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "goldpath" for p in COMMANDS])
def test_help_reads_cleanly(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    options = result.output.partition("Options:")[2].partition("Commands:")[0]
    assert not re.search(r"<[a-z ]+>", options), options  # every option value has a metavar
    listed = result.output.partition("Commands:")[2]
    assert "..." not in listed, listed
