"""Alias events: every change of an alias, with who made it and why.

Aliases set before this revision get one event each, so that every alias's current
target is explained by its history.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BACKFILL_ACTOR = "loopml"
BACKFILL_REASON = "set before alias history was kept (schema 0004)"


def upgrade() -> None:
    op.create_table(
        "alias_events",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("from_artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=True),
        sa.Column("to_artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alias_events_kind_name", "alias_events", ["kind", "name"])
    op.get_bind().execute(
        sa.text(
            "INSERT INTO alias_events (kind, name, alias, from_artifact_id, to_artifact_id, "
            "actor, reason, created_at) "
            "SELECT kind, name, alias, NULL, artifact_id, :actor, :reason, updated_at "
            "FROM aliases ORDER BY updated_at, kind, name, alias"
        ),
        {"actor": BACKFILL_ACTOR, "reason": BACKFILL_REASON},
    )


def downgrade() -> None:
    op.drop_index("ix_alias_events_kind_name", table_name="alias_events")
    op.drop_table("alias_events")
