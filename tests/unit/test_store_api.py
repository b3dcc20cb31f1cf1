"""The store's public names and its pure helpers: URLs, titles, UTC conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import make_url

import goldpath.store
from goldpath.errors import ConfigurationError
from goldpath.store._engine import normalise_url
from goldpath.store._schema import UTCDateTime
from goldpath.store._store import title_from_message

pytestmark = pytest.mark.unit

SQLITE = make_url("sqlite+pysqlite://").get_dialect()()
POSTGRESQL = make_url("postgresql+asyncpg://").get_dialect()()


def test_public_names_are_pinned() -> None:
    assert goldpath.store.__all__ == [
        "DEFAULT_TITLE",
        "MessageRecord",
        "PausedRunRecord",
        "Role",
        "RunEventBatch",
        "RunEventRecord",
        "RunLease",
        "RunRecord",
        "RunState",
        "Store",
        "ThreadRecord",
        "UserRecord",
    ]


@pytest.mark.parametrize(
    ("url", "expected", "backend"),
    [
        ("sqlite:///data/goldpath.db", "sqlite+pysqlite:///data/goldpath.db", "sqlite"),
        ("sqlite+aiosqlite:////abs/g.db", "sqlite+pysqlite:////abs/g.db", "sqlite"),
        ("postgresql://u:p@db:5432/gp", "postgresql+asyncpg://u:***@db:5432/gp", "postgresql"),
        ("postgres://u@db/gp", "postgresql+asyncpg://u@db/gp", "postgresql"),
        ("postgresql+psycopg2://u@db/gp", "postgresql+asyncpg://u@db/gp", "postgresql"),
    ],
)
def test_urls_are_normalised_to_goldpaths_drivers(url: str, expected: str, backend: str) -> None:
    parsed, found = normalise_url(url)
    assert (parsed.render_as_string(hide_password=True), found) == (expected, backend)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        ("mysql://u:secret@db/gp", "names backend 'mysql'"),
        ("not a url", "cannot be parsed"),
    ],
)
def test_unsupported_urls_are_configuration_errors(url: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason) as refused:
        normalise_url(url)
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("  Hello\n  world ", "Hello world"),
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 59 + "…"),
        ("word " * 20, ("word " * 12).rstrip() + "…"),
        (" \n\t ", None),
    ],
)
def test_titles_from_a_first_message(message: str, title: str | None) -> None:
    assert title_from_message(message) == title


def test_timestamps_are_stored_as_utc_and_read_back_aware() -> None:
    column = UTCDateTime()
    paris = datetime(2025, 3, 1, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    utc = datetime(2025, 3, 1, 12, 0, 0, 5, tzinfo=UTC)
    assert column.process_bind_param(paris, SQLITE) == utc.replace(tzinfo=None)
    assert column.process_bind_param(paris, POSTGRESQL) == utc
    assert column.process_result_value(utc.replace(tzinfo=None), SQLITE) == utc
    assert column.process_result_value(paris, POSTGRESQL) == utc
    assert column.process_bind_param(None, SQLITE) is None
    assert column.process_result_value(None, SQLITE) is None
    with pytest.raises(ValueError, match="naive datetime"):
        column.process_bind_param(utc.replace(tzinfo=None), SQLITE)
