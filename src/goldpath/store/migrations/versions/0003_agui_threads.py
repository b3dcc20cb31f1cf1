"""agui_threads: the AG-UI client's own threadId of a thread made through POST /ag-ui

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agui_threads",
        sa.Column("thread_id", sa.String(64), nullable=False),
        sa.Column("agui_thread_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.thread_id"],
            name="fk_agui_threads_thread_id_threads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", name="pk_agui_threads"),
    )


def downgrade() -> None:
    op.drop_table("agui_threads")
