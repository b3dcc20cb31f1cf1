"""runs: status 'waiting', and what continues a run paused for a person's approval

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_BEFORE = "status IN ('running', 'ok', 'error', 'cancelled', 'timeout')"
_AFTER = "status IN ('running', 'waiting', 'ok', 'error', 'cancelled', 'timeout')"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("ck_runs_status", type_="check")
        batch.create_check_constraint("ck_runs_status", _AFTER)
        batch.add_column(sa.Column("pending_call_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("paused_state", sa.Text(), nullable=True))
        batch.add_column(sa.Column("approval_deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_event_seq", sa.Integer(), nullable=True))
    op.create_index("ix_runs_approval_deadline", "runs", ["approval_deadline"])


def downgrade() -> None:
    # 0006 knows no 'waiting' and cannot continue a paused run: such runs end cancelled.
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite keeps naive UTC text
    runs = sa.table(
        "runs",
        sa.column("status", sa.String),
        sa.column("finished_at", sa.DateTime(timezone=True)),
        sa.column("error", sa.Text),
    )
    op.execute(
        runs.update()
        .where(runs.c.status == "waiting")
        .values(
            status="cancelled",
            finished_at=now,
            error="the run waited for approval when the schema was downgraded; start it again",
        )
    )
    op.drop_index("ix_runs_approval_deadline", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("next_event_seq")
        batch.drop_column("approval_deadline")
        batch.drop_column("paused_state")
        batch.drop_column("pending_call_id")
        batch.drop_constraint("ck_runs_status", type_="check")
        batch.create_check_constraint("ck_runs_status", _BEFORE)
