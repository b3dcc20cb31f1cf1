"""cli/_errors.py, _storage.py and _serve.py's checks: one line and an exit code for an
error; server/_paging.py: cursors that are not cursors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import typer

from goldpath.cli import app
from goldpath.cli._errors import FAILURE, USAGE, command_name, explain, install_hint, report
from goldpath.cli._serve import _listen, _reach_services
from goldpath.cli._storage import shown_url
from goldpath.errors import ConfigurationError, StoreError
from goldpath.server import Settings
from goldpath.server._errors import ApiError
from goldpath.server._paging import read_thread_cursor

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


def test_report_prints_one_line_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_command(app)
    with pytest.raises(SystemExit) as exited:
        report(ConfigurationError("set GOLDPATH_X"), group)
    assert exited.value.code == USAGE
    assert capsys.readouterr().err == "error: set GOLDPATH_X\n"


def test_listen_binds_or_says_the_port_is_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    listener = _listen("127.0.0.1", 0)
    try:
        port = listener.getsockname()[1]
        listener.listen()
        with pytest.raises(typer.Exit) as exited:
            _listen("127.0.0.1", port)
        assert exited.value.exit_code == FAILURE
        assert capsys.readouterr().err == (
            f"error: port {port} on 127.0.0.1 is in use: stop what listens there, "
            "or choose another port with --port\n"
        )
    finally:
        listener.close()


async def test_reach_services_opens_and_closes_the_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, redis_url=None).prepared()
    await _reach_services(settings)
    assert (tmp_path / "goldpath.db").exists()  # made and migrated


@pytest.mark.parametrize(
    "parts", [["t", "yesterday", "thr_1"], ["t", "2026-12-04T10:00:00", "thr_1"], ["m"]]
)
def test_a_cursor_that_is_not_one_is_refused(parts: list[str]) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(parts).encode()).rstrip(b"=").decode()
    with pytest.raises(ApiError, match="cursor"):
        read_thread_cursor(cursor)
