"""What the tracking API adds to runs in the SQL store: parameters given after a run
started, and each metric's latest value for many runs at once. A mixin of
:class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us, to_us
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store._records import MetricPoint, Run
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction
from loopml.store.values import (
    INT32,
    check_int,
    check_length,
    json_object,
    merge_params,
    metric_row,
    run_status,
    storable_text,
)

Row = Mapping[Any, Any]
_CHUNK = 500  # run ids per query: under every backend's limit on bound parameters


class Tracking:
    """The ``log_params`` and ``latest_metrics`` methods of the metadata store contract."""

    _engine: sa.Engine

    def _require_running(self, c: sa.Connection, run_id: str, action: str) -> Row:
        raise NotImplementedError  # SqlStore's

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError  # SqlStore's

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        json_object("run params", params)  # a value JSON cannot hold fails before any I/O

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                row = self._require_running(c, run_id, "add parameters to it")
                merged = merge_params(run_id, row["params"], params)
                if merged != row["params"]:
                    c.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(params=merged))
                    count_change(c)

        retrying(self._engine, work)
        return self.get_run(run_id)

    def record_runs(self, runs: Sequence[tuple[Run, Sequence[MetricPoint]]]) -> None:
        if not runs:
            return
        rows = [_run_row(run) for run, _ in runs]
        now = now_us()
        points = [metric_row(run.id, point, now) for run, batch in runs for point in batch]
        ids = {row["id"] for row in rows}
        if len(ids) < len(rows):
            raise InvalidInput("record_runs was given the same run id twice")
        parents = {row["parent_id"] for row in rows} - ids - {None}

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                found = set(
                    c.execute(sa.select(t.runs.c.id).where(t.runs.c.id.in_(ids | parents)))
                    .scalars()
                    .all()
                )
                if found & ids:
                    raise AlreadyExists(f"run {sorted(found & ids)[0]} is recorded already")
                if parents - found:
                    raise NotFound(f"no parent run with id {sorted(parents - found)[0]!r}")
                c.execute(sa.insert(t.runs), rows)
                if points:
                    c.execute(sa.insert(t.metrics), points)
                count_change(c)

        retrying(self._engine, work)

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        m = t.metrics.c
        rank = (
            sa.func.row_number()
            .over(
                partition_by=(m.run_id, m.key), order_by=(m.step.desc(), m.at.desc(), m.id.desc())
            )
            .label("rank")
        )
        latest: dict[str, dict[str, float]] = {}
        ids = list(dict.fromkeys(run_ids))
        for start in range(0, len(ids), _CHUNK):
            ranked = (
                sa.select(m.run_id, m.key, m.value, rank)
                .where(m.run_id.in_(ids[start : start + _CHUNK]))
                .subquery()
            )
            query = sa.select(ranked.c.run_id, ranked.c.key, ranked.c.value).where(
                ranked.c.rank == 1
            )
            for run_id, key, value in retrying(self._engine, functools.partial(_rows, self, query)):
                latest.setdefault(run_id, {})[key] = math.nan if value is None else value
        return latest


def _rows(store: Tracking, query: sa.Select[Any]) -> list[Any]:
    with transaction(store._engine, write=False) as c:
        return list(c.execute(query).all())


def _run_row(run: Run) -> dict[str, Any]:
    check_length("run kind", run.kind, 64)
    check_length("run name", run.name, 255)
    check_length("run host", run.host, 255)
    if run.fingerprint is not None:
        check_length("run fingerprint", run.fingerprint, 64)
    for moment in (run.started_at, run.ended_at):
        if moment is not None and not isinstance(moment, datetime):
            raise InvalidInput(f"run {run.id}: time {moment!r} must be a datetime")
    status = run_status(run.status)
    if status.finished != (run.ended_at is not None):
        raise InvalidInput(
            f"run {run.id}: status {status.value} and ended_at {run.ended_at} disagree; a "
            "finished run has an end time and a running one has none"
        )
    return {
        "id": run.id,
        "kind": run.kind,
        "name": run.name,
        "status": status.value,
        "params": json_object("run params", run.params),
        "parent_id": run.parent_id,
        "fingerprint": run.fingerprint,
        "code": json_object("run code", run.code),
        "environment": json_object("run environment", run.environment),
        "tags": json_object("run tags", run.tags),
        "host": run.host,
        "pid": check_int("run pid", run.pid, (0, INT32[1])),
        "started_at": to_us(run.started_at),
        "ended_at": None if run.ended_at is None else to_us(run.ended_at),
        "error": None if run.error is None else storable_text(str(run.error)),
    }
