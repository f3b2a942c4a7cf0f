"""Schedules in the in-memory store: recorded, listed, claimed when due, and told how
their runs went. A mixin of :class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from loopml._time import now_us, to_us
from loopml.errors import AlreadyExists, NotFound
from loopml.store import _rows
from loopml.store._memory.tables import LOCK, Tables, fresh, lookup, require_run
from loopml.store._records import RunStatus, Schedule
from loopml.store.values import check_limit, run_status


class Schedules:
    """The schedule methods of the metadata store contract."""

    _tables: Tables

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
        row = _rows.schedule_row(
            name=name,
            target=target,
            resolved_target=resolved_target,
            params=params,
            every_seconds=every_seconds,
            cron=cron,
            timezone=timezone,
            enabled=enabled,
            next_due_at=next_due_at,
        )
        with LOCK:
            if name in self._tables.schedules:
                raise AlreadyExists(_rows.schedule_taken(name))
            self._tables.schedules[name] = row
            self._tables.changed()
            return fresh(_rows.schedule_record, row)

    def get_schedule(self, name: str) -> Schedule:
        with LOCK:
            row = lookup(self._tables.schedules, name)
            if row is None:
                raise NotFound(f"no schedule named {name!r}")
            return fresh(_rows.schedule_record, row)

    def find_schedules(self, *, enabled: bool | None = None) -> list[Schedule]:
        with LOCK:
            return [
                fresh(_rows.schedule_record, row)
                for _, row in sorted(self._tables.schedules.items())
                if enabled is None or row["enabled"] == bool(enabled)
            ]

    def delete_schedule(self, name: str) -> None:
        with LOCK:
            if lookup(self._tables.schedules, name) is None:
                raise NotFound(f"no schedule named {name!r} to remove")
            del self._tables.schedules[name]
            self._tables.changed()

    def claim_due(self, now: datetime, limit: int | None = None) -> list[Schedule]:
        limit = check_limit(limit)
        moment = to_us(now)
        with LOCK:
            due = sorted(
                (
                    row
                    for row in self._tables.schedules.values()
                    if row["enabled"] and row["next_due_at"] <= moment
                ),
                key=lambda row: (row["next_due_at"], row["name"]),
            )[:limit]
            # Every next occurrence is found before any moves: one that cannot be
            # found leaves all of them where they were.
            following = [_rows.following_due(row, now) for row in due]
            for row, next_due_at in zip(due, following, strict=True):
                row["next_due_at"] = next_due_at
            if due:
                self._tables.changed()
            return [fresh(_rows.schedule_record, row) for row in due]

    def record_schedule_run(
        self, name: str, run_id: str | None, status: RunStatus | str
    ) -> Schedule:
        state = run_status(status)
        tables = self._tables
        with LOCK:
            if run_id is not None:
                require_run(tables, run_id)
            row = lookup(tables.schedules, name)
            if row is None:
                raise NotFound(f"no schedule named {name!r}")
            row.update(last_run_at=now_us(), last_run_id=run_id, last_status=state.value)
            tables.changed()
            return fresh(_rows.schedule_record, row)
