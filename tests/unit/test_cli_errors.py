"""cli/_errors.py: the line and exit code of an error no command handled itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from goldpath.cli import app
from goldpath.cli._errors import FAILURE, USAGE, command_name, explain, install_hint
from goldpath.cli._storage import shown_url
from goldpath.errors import ConfigurationError, StoreError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ModuleNotFoundError("no", name="asyncpg"),
            ("goldpath serve needs the asyncpg package: pip install 'goldpath[postgres]'", USAGE),
        ),
        (ConfigurationError("set GOLDPATH_X"), ("set GOLDPATH_X", USAGE)),
        (StoreError("the database failed"), ("the database failed", FAILURE)),
        (
            RuntimeError("boom"),
            (
                "goldpath serve failed: RuntimeError: boom (goldpath --debug shows the traceback)",
                FAILURE,
            ),
        ),
    ],
)
def test_explain(exc: Exception, expected: tuple[str, int]) -> None:
    assert explain(exc, "goldpath serve") == expected


def test_a_module_of_no_extra_is_not_blamed_on_one() -> None:
    assert install_hint("numpy") is None
    line, code = explain(ModuleNotFoundError("no", name="numpy"), "goldpath serve")
    assert line.startswith("goldpath serve failed: ModuleNotFoundError")
    assert code == FAILURE


def test_command_name() -> None:
    group = typer.main.get_command(app)
    assert command_name(group, ["user", "add", "ann", "--password", "x"]) == "goldpath user add"
    assert command_name(group, ["--debug", "check", "src"]) == "goldpath check"
    assert command_name(group, ["nonsense"]) == "goldpath"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+asyncpg://ann:secret@db:5432/goldpath",
            "postgresql+asyncpg://ann:***@db:5432/goldpath",
        ),
        ("sqlite:////srv/goldpath.db", "sqlite:////srv/goldpath.db"),
    ],
)
def test_shown_url_masks_the_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_shown_url_makes_a_relative_sqlite_path_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shown_url("sqlite:///.goldpath/goldpath.db") == (
        f"sqlite:///{tmp_path.resolve() / '.goldpath' / 'goldpath.db'}"
    )
