"""agui_resumes: the AG-UI runs a resume started, each a part of a goldpath run

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agui_resumes",
        sa.Column("agui_run_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.run_id"],
            name="fk_agui_resumes_run_id_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agui_run_id", name="pk_agui_resumes"),
    )
    op.create_index("ix_agui_resumes_run_id", "agui_resumes", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_agui_resumes_run_id", "agui_resumes")
    op.drop_table("agui_resumes")
