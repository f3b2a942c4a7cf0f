"""Schedules in the SQL store: recorded, listed, claimed when due, and told how their
runs went. A mixin of :class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us, to_us
from loopml.errors import AlreadyExists, NotFound
from loopml.store._records import RunStatus, Schedule
from loopml.store._rows import following_due, schedule_row, schedule_taken
from loopml.store._rows import schedule_record as _schedule
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction
from loopml.store.values import check_limit, run_status

Row = Mapping[Any, Any]


class Schedules:
    """The schedule methods of the metadata store contract."""

    _engine: sa.Engine

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
        row = schedule_row(
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

        def work() -> Schedule:
            with transaction(self._engine, write=True) as c:
                taken = c.execute(
                    sa.select(t.schedules.c.id).where(t.schedules.c.name == name)
                ).first()
                if taken is not None:
                    raise AlreadyExists(schedule_taken(name))
                c.execute(sa.insert(t.schedules), row)
                count_change(c)
            return _schedule(row)

        # A name raced for by two writers: the loser's retry finds it taken.
        return retrying(self._engine, work, retry_on_integrity=True)

    def get_schedule(self, name: str) -> Schedule:
        rows = self._schedule_rows(sa.select(t.schedules).where(t.schedules.c.name == name))
        if not rows:
            raise NotFound(f"no schedule named {name!r}")
        return _schedule(rows[0])

    def find_schedules(self, *, enabled: bool | None = None) -> list[Schedule]:
        query = sa.select(t.schedules).order_by(t.schedules.c.name)
        if enabled is not None:
            query = query.where(t.schedules.c.enabled == bool(enabled))
        return [_schedule(row) for row in self._schedule_rows(query)]

    def delete_schedule(self, name: str) -> None:
        def work() -> None:
            with transaction(self._engine, write=True) as c:
                deleted = c.execute(sa.delete(t.schedules).where(t.schedules.c.name == name))
                if deleted.rowcount == 0:
                    raise NotFound(f"no schedule named {name!r} to remove")
                count_change(c)

        retrying(self._engine, work)

    def claim_due(self, now: datetime, limit: int | None = None) -> list[Schedule]:
        limit = check_limit(limit)
        moment = to_us(now)
        due = self._schedule_rows(
            sa.select(t.schedules)
            .where(t.schedules.c.enabled == sa.true(), t.schedules.c.next_due_at <= moment)
            .order_by(t.schedules.c.next_due_at, t.schedules.c.name)
        )
        claimed: list[Schedule] = []
        for row in due:
            if limit is not None and len(claimed) >= limit:
                break
            following = following_due(row, now)
            if retrying(self._engine, functools.partial(self._claim, row, following)):
                claimed.append(_schedule({**row, "next_due_at": following}))
        return claimed

    def _claim(self, row: Row, following: int) -> bool:
        """Move one occurrence on, unless another caller moved it first."""
        with transaction(self._engine, write=True) as c:
            moved = c.execute(
                sa.update(t.schedules)
                .where(
                    t.schedules.c.id == row["id"],
                    t.schedules.c.next_due_at == row["next_due_at"],
                    t.schedules.c.enabled == sa.true(),
                )
                .values(next_due_at=following)
            )
            if moved.rowcount != 1:
                return False
            count_change(c)
            return True

    def record_schedule_run(
        self, name: str, run_id: str | None, status: RunStatus | str
    ) -> Schedule:
        state = run_status(status)

        def work() -> Schedule:
            with transaction(self._engine, write=True) as c:
                if run_id is not None:
                    found = c.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first()
                    if found is None:
                        raise NotFound(f"no run with id {run_id!r}")
                updated = c.execute(
                    sa.update(t.schedules)
                    .where(t.schedules.c.name == name)
                    .values(last_run_at=now_us(), last_run_id=run_id, last_status=state.value)
                )
                if updated.rowcount == 0:
                    raise NotFound(f"no schedule named {name!r}")
                row = (
                    c.execute(sa.select(t.schedules).where(t.schedules.c.name == name))
                    .mappings()
                    .one()
                )
                count_change(c)
                return _schedule(row)

        return retrying(self._engine, work)

    def _schedule_rows(self, query: sa.Select[Any]) -> list[Row]:
        def work() -> list[Row]:
            with transaction(self._engine, write=False) as c:
                return list(c.execute(query).mappings().all())

        return retrying(self._engine, work)
