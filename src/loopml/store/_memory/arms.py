"""Arm statistics in the in-memory store: added under the one lock, so that no
increment is lost. A mixin of :class:`~loopml.store._memory.store.MemoryStore`.

Not counted in the change counter: see
:meth:`~loopml.store.MetadataStore.add_arm_stats` for why."""

from __future__ import annotations

from collections.abc import Mapping

from loopml.errors import NotFound
from loopml.store._arm_rows import arm_deltas
from loopml.store._memory.tables import LOCK, Tables, lookup
from loopml.store._records import ArmStats


class ArmStatistics:
    """The arm statistics methods of the metadata store contract."""

    _tables: Tables

    def add_arm_stats(self, deployment: str, deltas: Mapping[str, ArmStats]) -> None:
        rows = arm_deltas(deployment, deltas)
        if not rows:
            return
        with LOCK:
            _require_deployment(self._tables, deployment)
            totals = self._tables.arm_stats.setdefault(deployment, {})
            for arm, pulls, rewards, reward_sum in rows:
                totals[arm] = totals.get(arm, ArmStats()) + ArmStats(pulls, rewards, reward_sum)

    def arm_stats(self, deployment: str) -> dict[str, ArmStats]:
        with LOCK:
            _require_deployment(self._tables, deployment)
            # ArmStats are frozen and hold plain numbers: sharing them shares nothing
            return dict(sorted(self._tables.arm_stats.get(deployment, {}).items()))


def _require_deployment(tables: Tables, deployment: str) -> None:
    if lookup(tables.deployments, deployment) is None:
        raise NotFound(f"no deployment named {deployment!r} to keep arm statistics of")
