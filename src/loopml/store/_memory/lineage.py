"""Events and metrics in the in-memory store: the edges between runs and artifacts, and
the metric points of runs. A mixin of :class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Sequence

from loopml._time import now_us
from loopml.store import _rows
from loopml.store._memory.tables import (
    LOCK,
    Tables,
    append_metrics,
    fresh,
    latest_values,
    points_of,
    require_artifact,
    require_run,
)
from loopml.store._records import Direction, Event, Metric, MetricPoint
from loopml.store.values import metric_row


class Lineage:
    """The event and metric methods of the metadata store contract."""

    _tables: Tables

    def add_event(self, run_id: str, artifact_id: str, direction: Direction, role: str) -> Event:
        key = _rows.event_key(run_id, artifact_id, direction, role)
        tables = self._tables
        with LOCK:
            require_run(tables, run_id)
            require_artifact(tables, artifact_id)
            row = tables.events.get(key)
            if row is None:
                event = dict(zip(_rows.EVENT_KEYS, key, strict=True))
                row = tables.events[key] = {**event, "created_at": now_us()}
                tables.changed()
            return fresh(_rows.event_record, row)

    def events(self, *, run_id: str | None = None, artifact_id: str | None = None) -> list[Event]:
        with LOCK:
            return [
                fresh(_rows.event_record, row)
                for row in self._tables.events.values()  # in the order they were written
                if (run_id is None or row["run_id"] == run_id)
                and (artifact_id is None or row["artifact_id"] == artifact_id)
            ]

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        if not points:
            return
        now = now_us()
        rows = [metric_row(run_id, point, now) for point in points]
        with LOCK:
            require_run(self._tables, run_id)
            append_metrics(self._tables, run_id, rows)
            self._tables.changed()

    def metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        with LOCK:
            rows = [
                row for row in points_of(self._tables, run_id) if key is None or row["key"] == key
            ]
            rows.sort(key=lambda row: (row["key"], row["step"], row["at"], row["id"]))
            return [_rows.metric_record(row) for row in rows]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        with LOCK:
            found = {run_id: latest_values(self._tables, run_id) for run_id in run_ids}
        return {run_id: values for run_id, values in found.items() if values}
