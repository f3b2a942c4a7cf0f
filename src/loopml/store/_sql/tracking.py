"""What the tracking API adds to runs in the SQL store: parameters given after a run
started, and each metric's latest value for many runs at once. A mixin of
:class:`~loopml.store._sql.store.SqlStore`."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import AlreadyExists, NotFound
from loopml.store._records import MetricPoint, Run
from loopml.store._rows import distinct_ids, recorded_run_row
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction
from loopml.store.values import json_object, merge_params, metric_row

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
        rows = [recorded_run_row(run) for run, _ in runs]
        now = now_us()
        points = [metric_row(run.id, point, now) for run, batch in runs for point in batch]
        ids = distinct_ids(rows)
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
