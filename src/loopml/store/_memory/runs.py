"""Runs in the in-memory store: started, finished, tagged, given parameters, found, and
recorded whole when made elsewhere. A mixin of
:class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml._time import now_us
from loopml.errors import AlreadyExists, NotFound
from loopml.store import _rows
from loopml.store._memory.tables import (
    LOCK,
    Row,
    Tables,
    append_metrics,
    fresh,
    latest_values,
    lookup,
    require_artifact,
    require_run,
)
from loopml.store._records import Direction, MetricPoint, Run, RunStatus
from loopml.store.query import Condition, RunOrder, select_runs
from loopml.store.values import check_limit, json_object, merge_params, metric_row, run_status


class Runs:
    """The run methods of the metadata store contract."""

    _tables: Tables

    def create_run(
        self,
        *,
        kind: str,
        name: str,
        params: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
        fingerprint: str | None = None,
        code: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        status: RunStatus = RunStatus.RUNNING,
        events: Sequence[tuple[str, Direction, str]] = (),
    ) -> Run:
        row = _rows.run_row(
            kind=kind,
            name=name,
            params=params,
            parent_id=parent_id,
            fingerprint=fingerprint,
            code=code,
            environment=environment,
            tags=tags,
            status=status,
        )
        links = _rows.event_keys(row["id"], events)
        tables = self._tables
        with LOCK:
            if parent_id is not None:
                require_run(tables, parent_id, what="parent run")
            for artifact_id in sorted({link[1] for link in links}):
                require_artifact(tables, artifact_id)
            tables.runs[row["id"]] = row
            created = now_us()
            for link in links:
                event = dict(zip(_rows.EVENT_KEYS, link, strict=True))
                tables.events[link] = {**event, "created_at": created}
            tables.changed()
            return fresh(_rows.run_record, row)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        *,
        metrics: Sequence[MetricPoint] = (),
    ) -> Run:
        status = _rows.finished_status(status)
        now = now_us()
        points = [metric_row(run_id, point, now) for point in metrics]
        text = _rows.error_text(error)
        tables = self._tables
        with LOCK:
            row = _require_running(tables, run_id, f"finish it as {status.value}")
            append_metrics(tables, run_id, points)
            row.update(status=status.value, ended_at=now_us(), error=text)
            tables.changed()
            return fresh(_rows.run_record, row)

    def set_run_tags(self, run_id: str, tags: Mapping[str, Any]) -> Run:
        new_tags = json_object("run tags", tags)
        with LOCK:
            row = _require_running(self._tables, run_id, "tag it")
            merged = {**row["tags"], **new_tags}
            if merged != row["tags"]:
                row["tags"] = merged
                self._tables.changed()
            return fresh(_rows.run_record, row)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        json_object("run params", params)  # a value JSON cannot hold fails first
        with LOCK:
            row = _require_running(self._tables, run_id, "add parameters to it")
            merged = merge_params(run_id, row["params"], params)
            if merged != row["params"]:
                row["params"] = merged
                self._tables.changed()
            return fresh(_rows.run_record, row)

    def get_run(self, run_id: str) -> Run:
        with LOCK:
            return fresh(_rows.run_record, require_run(self._tables, run_id))

    def find_runs(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        parent_id: str | None = None,
        status: RunStatus | None = None,
        fingerprint: str | None = None,
        id_suffix: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        where: Condition | None = None,
        order_by: RunOrder | None = None,
        after: str | None = None,
    ) -> list[Run]:
        wanted = {
            "kind": kind,
            "name": name,
            "parent_id": parent_id,
            "status": None if status is None else run_status(status).value,
            "fingerprint": fingerprint,
        }
        filters = {column: value for column, value in wanted.items() if value is not None}
        limit = check_limit(limit)
        with LOCK:
            found = [
                row
                for row in self._tables.runs.values()
                if all(row[column] == value for column, value in filters.items())
                and (id_suffix is None or row["id"].endswith(id_suffix))
            ]
            if where is None and order_by is None and after is None:
                found.sort(key=lambda row: (row["started_at"], row["id"]), reverse=newest_first)
                return [fresh(_rows.run_record, row) for row in found[:limit]]
            start = None
            if after is not None:
                start = lookup(self._tables.runs, after)
                if start is None:
                    raise NotFound(f"no run with id {after!r}")
            # Records made from copies, under the lock: what select_runs decides on is
            # one moment's state, and nothing it returns reaches the tables.
            candidates = [
                (fresh(_rows.run_record, row), latest_values(self._tables, row["id"]))
                for row in found
            ]
            first = None
            if start is not None:
                first = (fresh(_rows.run_record, start), latest_values(self._tables, start["id"]))
        return select_runs(
            candidates,
            where=where,
            order_by=order_by,
            newest_first=newest_first,
            after=first,
            limit=limit,
        )

    def record_runs(self, runs: Sequence[tuple[Run, Sequence[MetricPoint]]]) -> None:
        if not runs:
            return
        rows = [_rows.recorded_run_row(run) for run, _ in runs]
        now = now_us()
        points = [metric_row(run.id, point, now) for run, batch in runs for point in batch]
        ids = _rows.distinct_ids(rows)
        parents = {row["parent_id"] for row in rows} - ids - {None}
        tables = self._tables
        with LOCK:
            taken = sorted(ids & tables.runs.keys())
            if taken:
                raise AlreadyExists(f"run {taken[0]} is recorded already")
            missing = sorted(parents - tables.runs.keys())
            if missing:
                raise NotFound(f"no parent run with id {missing[0]!r}")
            for row in rows:
                tables.runs[row["id"]] = row
            for point in points:
                append_metrics(tables, point["run_id"], [point])
            if rows:
                tables.changed()


def _require_running(tables: Tables, run_id: str, action: str) -> Row:
    row = require_run(tables, run_id)
    if row["status"] != RunStatus.RUNNING.value:
        raise _rows.not_running(run_id, row["status"], action)
    return row
