"""Review items: predicted rows queued for people to label, their labels, and the
claims that hand them out.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = sa.String(32)
OPEN_ITEMS = "committed_to IS NULL AND label_count < labels_wanted"


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("seq", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("id", ID, nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("prediction_id", sa.String(255), nullable=False),
        sa.Column("row", sa.BigInteger, nullable=False),
        sa.Column("deployment", sa.String(255), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("guess", JSON, nullable=False),
        sa.Column("confidence", sa.Double, nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("dataset", sa.String(255), nullable=True),
        sa.Column("labels_wanted", sa.Integer, nullable=False),
        sa.Column("label_count", sa.Integer, nullable=False),
        sa.Column("committed_to", ID, sa.ForeignKey("artifacts.id"), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("id", name="uq_review_items_id"),
        sa.UniqueConstraint("queue", "prediction_id", "row", name="uq_review_items_queue_row"),
    )
    op.create_index("ix_review_items_queue_seq", "review_items", ["queue", "seq"])
    op.create_index(
        "ix_review_items_open",
        "review_items",
        ["queue", "seq"],
        sqlite_where=sa.text(OPEN_ITEMS),
        postgresql_where=sa.text(OPEN_ITEMS),
    )
    op.create_index("ix_review_items_prediction_id", "review_items", ["prediction_id"])
    op.create_index("ix_review_items_committed_to", "review_items", ["committed_to"])
    op.create_table(
        "review_labels",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("item_id", ID, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("reviewer", sa.String(255), nullable=False),
        sa.Column("label", JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("item_id", "reviewer", name="uq_review_labels_item_reviewer"),
    )
    op.create_table(
        "review_claims",
        sa.Column("item_id", ID, sa.ForeignKey("review_items.id"), primary_key=True),
        sa.Column("reviewer", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_review_claims_reviewer", "review_claims", ["reviewer", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_review_claims_reviewer", table_name="review_claims")
    op.drop_table("review_claims")
    op.drop_table("review_labels")
    op.drop_index("ix_review_items_open", table_name="review_items")
    op.drop_index("ix_review_items_committed_to", table_name="review_items")
    op.drop_index("ix_review_items_prediction_id", table_name="review_items")
    op.drop_index("ix_review_items_queue_seq", table_name="review_items")
    op.drop_table("review_items")
