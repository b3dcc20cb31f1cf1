"""Schema upgrades with the alembic scripts shipped in ``migrations/``, no ini file needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from goldpath.errors import SchemaVersionError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant works; it keeps two processes starting at once from migrating together.
_PG_MIGRATION_LOCK = 0x60_1D_7A_7B


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic ``Config`` pointing at the in-package scripts, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Bring the schema to head, or refuse a revision this code does not know.

    Runs inside the caller's transaction (the store runs it as one transaction), so a failed
    upgrade leaves the database as it was wherever DDL is transactional.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None:
        try:
            script.get_revision(current)
        except (CommandError, RevisionError) as exc:
            raise SchemaVersionError(
                f"database schema revision {current} is newer than this goldpath "
                f"(knows up to {script.get_current_head()}); upgrade goldpath or point "
                "GOLDPATH_DATABASE_URL at another database"
            ) from exc
    if current != script.get_current_head():
        command.upgrade(config, "head")


def require_current_schema(connection: Connection) -> None:
    """`SchemaVersionError` unless the database's schema revision is this code's head: a
    process started before a migration (or after a newer one) is not ready to serve."""
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        raise SchemaVersionError(
            f"database schema revision {current} is not this goldpath's {head}; run the "
            "goldpath version that matches the database, or restart to upgrade it"
        )
