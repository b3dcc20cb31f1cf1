"""Which database and data directory a command uses, as it tells the person running it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldpath.server import Settings

__all__ = ["describe_storage", "shown_url"]


def shown_url(url: str) -> str:
    """``url`` with its password masked and a relative SQLite path made absolute."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if not path.is_absolute() and parsed.database != ":memory:":
            parsed = parsed.set(database=str(path.resolve()))
    return parsed.render_as_string(hide_password=True)


def describe_storage(settings: Settings) -> str:
    """One line: the database (password masked) and the data directory of prepared settings."""
    assert settings.database_url is not None
    return f"database: {shown_url(settings.database_url)}; data dir: {settings.data_dir.resolve()}"
