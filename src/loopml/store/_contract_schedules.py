"""The store contract's schedules: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from loopml.store._records import RunStatus, Schedule


class ScheduleStore(abc.ABC):
    """Schedules: pipelines due at a cadence, claimed by one caller each."""

    @abc.abstractmethod
    def create_schedule(
        self,
        *,
        name: str,
        target: str,
        resolved_target: str,
        params: Mapping[str, Any] | None = None,
        every_seconds: int | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        enabled: bool = True,
        next_due_at: datetime | None = None,
    ) -> Schedule:
        """Record a schedule under a unique ``name`` (an artifact-style name).

        It needs exactly one of ``every_seconds`` and a five-field ``cron``
        expression; ``timezone`` is an IANA name the cron times are read in. Without
        ``next_due_at`` it is first due at its first occurrence after now. A name
        taken raises AlreadyExists.
        """

    @abc.abstractmethod
    def get_schedule(self, name: str) -> Schedule:
        """The schedule called ``name``."""

    @abc.abstractmethod
    def find_schedules(self, *, enabled: bool | None = None) -> list[Schedule]:
        """Every schedule, or only the enabled (or disabled) ones, by name."""

    @abc.abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Remove a schedule; removing one that is not there raises NotFound."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int | None = None) -> list[Schedule]:
        """Claim up to ``limit`` enabled schedules due at ``now``, earliest due first.

        Claiming moves a schedule's ``next_due_at`` to its first occurrence after
        ``now``, so occurrences missed meanwhile are skipped, not run one by one. Each
        claim is its own transaction and takes effect only if no other caller claimed
        that occurrence first: callers claiming at once get disjoint schedules. The
        returned records show the new ``next_due_at``.
        """

    @abc.abstractmethod
    def record_schedule_run(
        self, name: str, run_id: str | None, status: RunStatus | str
    ) -> Schedule:
        """Record how a claimed schedule's run went: its pipeline run (None when it
        failed before a run began) and that run's status, at the current time."""
