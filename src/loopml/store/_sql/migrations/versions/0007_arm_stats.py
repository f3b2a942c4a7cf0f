"""Arm statistics: what the bandits of a deployment learned of each arm, summed over
every server worker.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arm_stats",
        sa.Column(
            "deployment", sa.String(255), sa.ForeignKey("deployments.name"), primary_key=True
        ),
        sa.Column("arm", sa.String(255), primary_key=True),
        sa.Column("pulls", sa.BigInteger, nullable=False),
        sa.Column("rewards", sa.BigInteger, nullable=False),
        sa.Column("reward_sum", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("arm_stats")
