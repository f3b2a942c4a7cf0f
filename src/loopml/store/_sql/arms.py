"""Arm statistics in the SQL store: each worker's deltas added by the database itself
(an upsert of ``pulls = pulls + excluded.pulls``), so that concurrent writers lose no
increment. A mixin of :class:`~loopml.store._sql.store.SqlStore`.

Not counted in the change counter: see
:meth:`~loopml.store.MetadataStore.add_arm_stats` for why."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from loopml.errors import NotFound
from loopml.store._arm_rows import arm_deltas
from loopml.store._records import ArmStats
from loopml.store._sql import schema as t
from loopml.store._sql.engine import retrying, transaction

# Plain SQL that SQLite (3.24 and later) and PostgreSQL both take as written; the
# existing row is named by its table, as PostgreSQL requires.
_ADD = sa.text(
    f"INSERT INTO {t.arm_stats.name} (deployment, arm, pulls, rewards, reward_sum) "
    "VALUES (:deployment, :arm, :pulls, :rewards, :reward_sum) "
    "ON CONFLICT (deployment, arm) DO UPDATE SET "
    f"pulls = {t.arm_stats.name}.pulls + excluded.pulls, "
    f"rewards = {t.arm_stats.name}.rewards + excluded.rewards, "
    f"reward_sum = {t.arm_stats.name}.reward_sum + excluded.reward_sum"
)


class ArmStatistics:
    """The arm statistics methods of the metadata store contract."""

    _engine: sa.Engine

    def add_arm_stats(self, deployment: str, deltas: Mapping[str, ArmStats]) -> None:
        rows = arm_deltas(deployment, deltas)
        if not rows:
            return
        params = [
            {"deployment": deployment, "arm": arm, "pulls": p, "rewards": r, "reward_sum": s}
            for arm, p, r, s in rows
        ]

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                # FOR KEY SHARE on PostgreSQL: a deletion of the deployment waits for
                # this transaction, while other workers' additions do not.
                _require_deployment(c, deployment, lock=True)
                c.execute(_ADD, params)

        retrying(self._engine, work)

    def arm_stats(self, deployment: str) -> dict[str, ArmStats]:
        a = t.arm_stats.c
        arm = a.arm
        if self._engine.dialect.name == "postgresql":  # code point order, as Python's
            arm = sa.collate(arm, "C")  # type: ignore[assignment]
        query = (
            sa.select(a.arm, a.pulls, a.rewards, a.reward_sum)
            .where(a.deployment == deployment)
            .order_by(arm)
        )

        def work() -> dict[str, ArmStats]:
            with transaction(self._engine, write=False) as c:
                _require_deployment(c, deployment, lock=False)
                return {
                    row.arm: ArmStats(int(row.pulls), int(row.rewards), float(row.reward_sum))
                    for row in c.execute(query)
                }

        return retrying(self._engine, work)


def delete_arm_stats(c: sa.Connection, deployment: str) -> None:
    """Delete a deployment's statistics, in the transaction that deletes it."""
    c.execute(sa.delete(t.arm_stats).where(t.arm_stats.c.deployment == deployment))


def _require_deployment(c: sa.Connection, deployment: str, *, lock: bool) -> None:
    query = sa.select(t.deployments.c.name).where(t.deployments.c.name == deployment)
    if lock:
        query = query.with_for_update(read=True, key_share=True)
    if c.execute(query).first() is None:
        raise NotFound(f"no deployment named {deployment!r} to keep arm statistics of")
