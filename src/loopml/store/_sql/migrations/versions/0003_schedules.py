"""Schedules: pipelines run on an interval or a cron expression.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("resolved_target", sa.Text, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("every_seconds", sa.BigInteger, nullable=True),
        sa.Column("cron", sa.String(255), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_due_at", sa.BigInteger, nullable=False),
        sa.Column("last_run_at", sa.BigInteger, nullable=True),
        sa.Column("last_run_id", ID, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("last_status", sa.String(32), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("name", name="uq_schedules_name"),
        sa.CheckConstraint(
            "(every_seconds IS NULL) <> (cron IS NULL)", name="ck_schedules_one_cadence"
        ),
    )
    op.create_index("ix_schedules_next_due_at", "schedules", ["next_due_at"])


def downgrade() -> None:
    op.drop_index("ix_schedules_next_due_at", table_name="schedules")
    op.drop_table("schedules")
