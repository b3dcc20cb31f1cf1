"""Server settings: GOLDPATH_* variables, the generated secret, and refused configurations."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

from goldpath import ConfigurationError, OfflineModel
from goldpath.server import Settings
from goldpath.server._models import make_model

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GOLDPATH_") and name != "GOLDPATH_REQUIRE_SERVICES":
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = Settings()
    assert settings.data_dir == Path(".goldpath")
    assert settings.model == "offline"
    assert settings.allowed_origins == []
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.max_frame_bytes == 65536
    assert settings.max_message_chars == 32000
    assert settings.messages_per_minute == 60
    assert settings.max_runs_per_user == 4
    assert settings.run_timeout == 120
    assert settings.max_tool_calls == 32
    assert (settings.history_events, settings.history_seconds) == (1000, 600)
    assert settings.token_ttl_seconds == 3600
    assert settings.auth_timeout_seconds == 10


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOLDPATH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GOLDPATH_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("GOLDPATH_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("GOLDPATH_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("GOLDPATH_MESSAGES_PER_MINUTE", "7")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.messages_per_minute == 7
    prepared = settings.prepared()
    assert prepared.database_url == "sqlite:///elsewhere.db"
    assert prepared.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()
    monkeypatch.setenv("GOLDPATH_ALLOWED_ORIGINS", '["https://c.example"]')
    assert Settings().allowed_origins == ["https://c.example"]


def test_generated_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(data_dir=data_dir).prepared()
    secret_file = data_dir / "secret_key"
    assert first.secret_key is not None
    assert len(first.secret_key) >= 64
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert first.database_url == f"sqlite:///{data_dir / 'goldpath.db'}"
    assert Settings(data_dir=data_dir).prepared().secret_key == first.secret_key


def test_a_redis_url_needs_the_redis_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://localhost:6379/0")
    assert settings.prepared().redis_url == "redis://localhost:6379/0"
    assert settings.redis_prefix == "goldpath:"
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'goldpath\[redis\]'"):
        settings.prepared()


def test_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="offline, openai"):
        Settings(model="llama")
    with pytest.raises(ConfigurationError, match="at least 32"):
        Settings(data_dir=tmp_path, secret_key="short").prepared()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "secret_key").write_text("")
    with pytest.raises(ConfigurationError, match="is empty"):
        Settings(data_dir=tmp_path / "empty").prepared()


async def test_models() -> None:
    settings = Settings(openai_model="m", openai_base_url="http://127.0.0.1:9/v1")
    assert isinstance(make_model("offline", settings), OfflineModel)
    chosen = make_model("openai", settings)
    named = make_model("openai:gpt-4o", settings)
    try:
        assert chosen.name == "openai:m"
        assert named.name == "openai:gpt-4o"
    finally:
        await chosen.close()  # type: ignore[attr-defined]
        await named.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["openai:", "offline:x", "llama", "OpenAI", ""])
def test_model_names_goldpath_does_not_know(name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings(model=name)
    assert str(raised.value) == (
        f"GOLDPATH_MODEL is {name!r}; set it to offline, openai or openai:<model name>"
    )
    assert Settings(model="openai:llama3.1:8b").model == "openai:llama3.1:8b"
