"""Schedules in the SQL store: recorded, listed, claimed when due, and told how their
runs went. A mixin of :class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopml import _cadence
from loopml._ids import new_id
from loopml._time import from_us, now_us, to_us
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store._records import RunStatus, Schedule
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction
from loopml.store.values import check_length, check_limit, check_name, json_object, run_status

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
        check_name(name, "schedule name")
        check_length("schedule target", target, 4096)
        check_length("schedule resolved target", resolved_target, 4096)
        if (every_seconds is None) == (cron is None):
            raise InvalidInput(
                f"schedule {name!r} needs exactly one of an interval (every_seconds) or a "
                "cron expression"
            )
        if every_seconds is not None:
            _cadence.check_every(every_seconds)
        if cron is not None:
            cron = _cadence.check_cron(cron)
            check_length("schedule cron", cron, 255)
        _cadence.zone(timezone)
        check_length("schedule timezone", timezone, 64)
        created = now_us()
        if next_due_at is None:
            next_due_at = _cadence.next_due(
                after=from_us(created), every_seconds=every_seconds, cron=cron, timezone=timezone
            )
        row: dict[str, Any] = {
            "id": new_id(),
            "name": name,
            "target": target,
            "resolved_target": resolved_target,
            "params": json_object("schedule params", params),
            "every_seconds": every_seconds,
            "cron": cron,
            "timezone": timezone,
            "enabled": bool(enabled),
            "next_due_at": to_us(next_due_at),
            "last_run_at": None,
            "last_run_id": None,
            "last_status": None,
            "created_at": created,
        }

        def work() -> Schedule:
            with transaction(self._engine, write=True) as c:
                taken = c.execute(
                    sa.select(t.schedules.c.id).where(t.schedules.c.name == name)
                ).first()
                if taken is not None:
                    raise AlreadyExists(
                        f"a schedule named {name!r} exists already; remove it first or "
                        "choose another name"
                    )
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
            following = to_us(
                _cadence.next_due(
                    after=now,
                    previous=from_us(row["next_due_at"]),
                    every_seconds=row["every_seconds"],
                    cron=row["cron"],
                    timezone=row["timezone"],
                )
            )
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


def _schedule(row: Row) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        target=row["target"],
        resolved_target=row["resolved_target"],
        params=dict(row["params"]),
        every_seconds=row["every_seconds"],
        cron=row["cron"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        next_due_at=from_us(row["next_due_at"]),
        last_run_at=None if row["last_run_at"] is None else from_us(row["last_run_at"]),
        last_run_id=row["last_run_id"],
        last_status=None if row["last_status"] is None else RunStatus(row["last_status"]),
        created_at=from_us(row["created_at"]),
    )
