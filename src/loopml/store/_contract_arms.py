"""The store contract's arm statistics: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping

from loopml.store._records import ArmStats


class ArmStatsStore(abc.ABC):
    """The bandit statistics of a deployment's arms, shared by every server worker."""

    @abc.abstractmethod
    def add_arm_stats(self, deployment: str, deltas: Mapping[str, ArmStats]) -> None:
        """Add ``deltas`` (what one worker saw since it last added, by arm) to the
        deployment's totals, field by field, in one transaction.

        The additions are increments made by the database, so any number of workers
        may add at once and no increment is lost. An arm the store does not know yet
        starts at zero; an empty mapping, or deltas of zeros, write nothing. The
        deployment must exist (NotFound otherwise, and nothing is written).

        This write does not move :meth:`change_counter`: the statistics are not
        configuration but traffic, written by every worker every second or so, and
        servers poll the counter to learn that a deployment or an alias changed; were
        it moved, every poll would see a change, and on PostgreSQL every worker's
        write would queue on the counter's row.
        """

    @abc.abstractmethod
    def arm_stats(self, deployment: str) -> dict[str, ArmStats]:
        """The deployment's totals, by arm (in code point order); an empty dict before
        anything was added. NotFound when there is no such deployment."""
