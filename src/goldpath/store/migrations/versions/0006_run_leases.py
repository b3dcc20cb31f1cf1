"""runs: the node running each run and the lease it renews

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Rows from before have no node and no lease: a sweep treats them as expired.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("node_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_runs_node_id", "runs", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_node_id", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("node_id")
