"""Table definitions. Change them only together with a new migration in ``migrations/``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# The migrations this loopml knows, oldest first; the last is the schema it writes.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009")
HEAD = REVISIONS[-1]

ID = sa.String(32)
# A BigInteger primary key that is SQLite's rowid, so inserts stay cheap there.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class _Document(sa.types.TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL. Chosen per dialect at run time, so that a
    SQLite workspace never imports the PostgreSQL dialect (about 50 ms)."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JSON = _Document()
TIME = sa.BigInteger  # microseconds since the epoch, UTC

metadata = sa.MetaData()

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("uri", sa.Text, nullable=True),
    sa.Column("metadata", JSON, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("kind", "name", "version", name="uq_artifacts_kind_name_version"),
    sa.Index("ix_artifacts_digest", "digest"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("params", JSON, nullable=False),
    sa.Column("parent_id", ID, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("fingerprint", sa.String(64), nullable=True),
    sa.Column("code", JSON, nullable=False),
    sa.Column("environment", JSON, nullable=False),
    sa.Column("tags", JSON, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", TIME, nullable=False),
    sa.Column("ended_at", TIME, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_runs_kind_name", "kind", "name"),
    sa.Index("ix_runs_parent_id", "parent_id"),
    sa.Index("ix_runs_fingerprint", "fingerprint"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("role", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("run_id", "artifact_id", "direction", "role", name="uq_events_edge"),
    sa.Index("ix_events_artifact_id", "artifact_id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    # NULL stands for NaN: SQLite cannot store a NaN.
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("at", TIME, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
)

alias_events = sa.Table(
    "alias_events",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    # NULL: the alias was first set (from) or deleted (to).
    sa.Column("from_artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=True),
    sa.Column("to_artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Index("ix_alias_events_kind_name", "kind", "name"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", JSON, nullable=False),
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("artifact_id", ID, sa.ForeignKey("artifacts.id"), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Index("ix_alerts_kind_created_at", "kind", "created_at"),
    sa.Index("ix_alerts_run_id", "run_id"),
)

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("resolved_target", sa.Text, nullable=False),
    sa.Column("params", JSON, nullable=False),
    sa.Column("every_seconds", sa.BigInteger, nullable=True),
    sa.Column("cron", sa.String(255), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("next_due_at", TIME, nullable=False),
    sa.Column("last_run_at", TIME, nullable=True),
    sa.Column("last_run_id", ID, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("last_status", sa.String(32), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("name", name="uq_schedules_name"),
    sa.CheckConstraint(
        "(every_seconds IS NULL) <> (cron IS NULL)", name="ck_schedules_one_cadence"
    ),
    sa.Index("ix_schedules_next_due_at", "next_due_at"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("policy", JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
)

deployment_changes = sa.Table(
    "deployment_changes",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    # the deployment's revision after the change: one change per revision of a name
    sa.Column("revision", sa.Integer, nullable=False),
    # NULL: the deployment was created (previous) or deleted (policy).
    sa.Column("previous_policy", JSON, nullable=True),
    sa.Column("policy", JSON, nullable=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("name", "revision", name="uq_deployment_changes_name_revision"),
)

# The bandit statistics of each deployment's arms, summed over every server worker:
# only ever added to (pulls = pulls + ?), deleted with their deployment.
arm_stats = sa.Table(
    "arm_stats",
    metadata,
    sa.Column("deployment", sa.String(255), sa.ForeignKey("deployments.name"), primary_key=True),
    sa.Column("arm", sa.String(255), primary_key=True),
    sa.Column("pulls", sa.BigInteger, nullable=False),
    sa.Column("rewards", sa.BigInteger, nullable=False),
    sa.Column("reward_sum", sa.Double, nullable=False),
)

# One row per lease name, kept once taken: a released lease has no holder and keeps its
# token, so that the next holder's is one more.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=True),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", TIME, nullable=False),
    sa.Column("renewed_at", TIME, nullable=False),
    # held while the store's clock is before it
    sa.Column("expires_at", TIME, nullable=False),
)

OPEN_ITEMS = "committed_to IS NULL AND label_count < labels_wanted"

# Predicted rows queued for people to label: ``seq`` is the queue order; the values
# an item was queued with never change, only ``label_count`` (kept with the labels, so
# that a claim counts one row) and ``committed_to`` (set once).
review_items = sa.Table(
    "review_items",
    metadata,
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
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("id", name="uq_review_items_id"),
    sa.UniqueConstraint("queue", "prediction_id", "row", name="uq_review_items_queue_row"),
    sa.Index("ix_review_items_queue_seq", "queue", "seq"),
    # The items still wanting labels, in queue order: what a claim looks through first,
    # without reading past the labelled ones (the claim's query repeats this condition).
    # Migration 0009 makes it partial, WHERE OPEN_ITEMS; it is declared here without the
    # condition because a postgresql_where keyword loads the PostgreSQL dialect (75 ms)
    # into every SQLite command. Tables are made by the migrations, never from here.
    sa.Index("ix_review_items_open", "queue", "seq"),
    sa.Index("ix_review_items_prediction_id", "prediction_id"),
    sa.Index("ix_review_items_committed_to", "committed_to"),
)

review_labels = sa.Table(
    "review_labels",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("item_id", ID, sa.ForeignKey("review_items.id"), nullable=False),
    sa.Column("reviewer", sa.String(255), nullable=False),
    sa.Column("label", JSON, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("item_id", "reviewer", name="uq_review_labels_item_reviewer"),
)

# A reviewer's hold on an item until ``expires_at``; gone once they label it.
review_claims = sa.Table(
    "review_claims",
    metadata,
    sa.Column("item_id", ID, sa.ForeignKey("review_items.id"), primary_key=True),
    sa.Column("reviewer", sa.String(255), primary_key=True),
    sa.Column("expires_at", TIME, nullable=False),
    sa.Index("ix_review_claims_reviewer", "reviewer", "expires_at"),
)

# One row (id 1): a number every writing transaction adds one to, for pollers.
change_counter = sa.Table(
    "change_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)
