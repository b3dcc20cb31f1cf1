"""Alembic environment: migrations run on the connection goldpath.store hands over.

``Store.open`` puts an open connection (inside a transaction) into
``config.attributes["connection"]``; there is no URL and no ini file here.
"""

from __future__ import annotations

from alembic import context

from goldpath.store._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "goldpath migrations run on a connection: use goldpath.store.Store.open(url), "
        "or goldpath.store._migrate.alembic_config(connection) with alembic.command"
    )
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
