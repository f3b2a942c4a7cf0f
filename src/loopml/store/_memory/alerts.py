"""Alerts in the in-memory store. A mixin of
:class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.errors import NotFound
from loopml.store import _rows
from loopml.store._memory.tables import LOCK, Tables, fresh, lookup, require_artifact, require_run
from loopml.store._records import Alert, Severity
from loopml.store.values import check_limit


class Alerts:
    """The alert methods of the metadata store contract."""

    _tables: Tables

    def create_alert(
        self,
        *,
        kind: str,
        severity: Severity | str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Alert:
        row = _rows.alert_row(
            kind=kind,
            severity=severity,
            message=message,
            evidence=evidence,
            run_id=run_id,
            artifact_id=artifact_id,
        )
        tables = self._tables
        with LOCK:
            if run_id is not None:
                require_run(tables, run_id)
            if artifact_id is not None:
                require_artifact(tables, artifact_id)
            tables.alerts[row["id"]] = row
            tables.changed()
            return fresh(_rows.alert_record, row)

    def get_alert(self, alert_id: str) -> Alert:
        with LOCK:
            row = lookup(self._tables.alerts, alert_id)
            if row is None:
                raise NotFound(f"no alert with id {alert_id!r}")
            return fresh(_rows.alert_record, row)

    def find_alerts(
        self, *, kind: str | None = None, run_id: str | None = None, limit: int | None = None
    ) -> list[Alert]:
        limit = check_limit(limit)
        with LOCK:
            found = [
                row
                for row in self._tables.alerts.values()
                if (kind is None or row["kind"] == kind)
                and (run_id is None or row["run_id"] == run_id)
            ]
            found.sort(key=lambda row: (row["created_at"], row["id"]), reverse=True)
            return [fresh(_rows.alert_record, row) for row in found[:limit]]
