"""``goldpath user add`` and the help of ``goldpath serve``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goldpath.cli import app
from goldpath.store import Store

pytestmark = pytest.mark.unit


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GOLDPATH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GOLDPATH_DATABASE_URL", raising=False)
    monkeypatch.delenv("GOLDPATH_SECRET_KEY", raising=False)
    monkeypatch.setenv("GOLDPATH_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("GOLDPATH_PASSWORD_HASH_MEMORY_KIB", "1024")
    return tmp_path


async def _username(data_dir: Path, username: str) -> str | None:
    store = await Store.open(f"sqlite:///{data_dir / 'goldpath.db'}")
    try:
        user = await store.get_user_by_username(username)
    finally:
        await store.close()
    return None if user is None else user.username


def test_user_add(data_dir: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["user", "add", "ann", "--password", "long enough"])
    assert made.exit_code == 0, made.output
    assert "created user 'ann'" in made.output
    assert asyncio.run(_username(data_dir, "ANN")) == "ann"
    taken = runner.invoke(app, ["user", "add", "Ann", "--password", "long enough"])
    assert taken.exit_code == 1
    assert "taken" in taken.output
    prompted = runner.invoke(app, ["user", "add", "bob"], input="long enough\nlong enough\n")
    assert prompted.exit_code == 0, prompted.output
    assert asyncio.run(_username(data_dir, "bob")) == "bob"


@pytest.mark.parametrize(
    ("username", "password", "words"),
    [
        ("a", "long enough", "3 to 64"),
        ("has space", "long enough", "3 to 64"),
        ("ann", "short", "8 to 256"),
    ],
)
def test_user_add_refuses(data_dir: Path, username: str, password: str, words: str) -> None:
    result = CliRunner().invoke(app, ["user", "add", username, "--password", password])
    assert result.exit_code == 2  # a usage error
    assert words in result.output
    assert not (data_dir / "goldpath.db").exists()


def test_serve_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for words in ("--host", "--port", "--reload", "GOLDPATH_"):
        assert words in result.output
