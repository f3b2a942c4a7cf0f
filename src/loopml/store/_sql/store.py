"""The metadata store on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import NotFound
from loopml.store import _rows
from loopml.store._base import MetadataStore
from loopml.store._records import (
    Alert,
    Artifact,
    Direction,
    Event,
    Metric,
    MetricPoint,
    Run,
    RunStatus,
    Severity,
    StoreInfo,
)
from loopml.store._rows import EVENT_KEYS as _EVENT_KEYS
from loopml.store._rows import alert_record as _alert
from loopml.store._rows import artifact_record as _artifact
from loopml.store._rows import event_key as _event_key
from loopml.store._rows import event_record as _event
from loopml.store._rows import run_record as _run
from loopml.store._sql import schema as t
from loopml.store._sql.arms import ArmStatistics
from loopml.store._sql.changes import Changes, CounterReader, count_change
from loopml.store._sql.deployments import Deployments
from loopml.store._sql.engine import redact, retrying, transaction
from loopml.store._sql.inserts import insert_artifact, require_run
from loopml.store._sql.leases import Leases
from loopml.store._sql.migrate import current_revision
from loopml.store._sql.registry import Aliases
from loopml.store._sql.reviews import Reviews
from loopml.store._sql.run_query import RunQueries
from loopml.store._sql.schedules import Schedules
from loopml.store._sql.tracking import Tracking
from loopml.store.values import INT32, check_limit, in_range, json_object, metric_row

Row = Mapping[Any, Any]


class SqlStore(
    Aliases,
    ArmStatistics,
    Changes,
    Deployments,
    Leases,
    Reviews,
    Schedules,
    Tracking,
    RunQueries,
    MetadataStore,
):
    """A :class:`MetadataStore` on a SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self._engine = engine
        self._counter = CounterReader(engine)
        self.url = redact(url)

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    # -- artifacts -------------------------------------------------------------------

    def create_artifact(
        self,
        *,
        kind: str,
        name: str,
        digest: str,
        size: int,
        uri: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        role: str = "output",
        after: int | None = None,
    ) -> Artifact:
        row = _rows.artifact_row(
            kind=kind, name=name, digest=digest, size=size, uri=uri, metadata=metadata, role=role
        )

        def work() -> Artifact:
            with transaction(self._engine, write=True) as c:
                values = insert_artifact(c, row, run_id=run_id, role=role, after=after)
                count_change(c)
            return _artifact(values)

        return retrying(self._engine, work, retry_on_integrity=True)

    def get_artifact(self, artifact_id: str) -> Artifact:
        rows = self._select(sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id))
        if not rows:
            raise NotFound(f"no artifact with id {artifact_id!r}")
        return _artifact(rows[0])

    def get_artifact_version(self, kind: str, name: str, version: int) -> Artifact:
        rows: list[Row] = []
        if in_range(version, INT32):  # no version can be outside it
            rows = self._select(
                sa.select(t.artifacts).where(
                    t.artifacts.c.kind == kind,
                    t.artifacts.c.name == name,
                    t.artifacts.c.version == version,
                )
            )
        if not rows:
            raise NotFound(_rows.no_version(kind, name, version, self._latest_version(kind, name)))
        return _artifact(rows[0])

    def latest_artifact(self, kind: str, name: str) -> Artifact:
        rows = self._select(
            sa.select(t.artifacts)
            .where(t.artifacts.c.kind == kind, t.artifacts.c.name == name)
            .order_by(t.artifacts.c.version.desc())
            .limit(1)
        )
        if not rows:
            raise NotFound(f"no {kind} named {name!r} in this workspace")
        return _artifact(rows[0])

    def find_artifacts(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[Artifact]:
        a = t.artifacts.c
        kind_text, name_text = self._text(a.kind), self._text(a.name)
        query = sa.select(t.artifacts).order_by(kind_text, name_text, a.version)
        for column, value in (("kind", kind), ("name", name), ("digest", digest)):
            if value is not None:
                query = query.where(a[column] == value)
        limit = check_limit(limit)
        if after is not None:
            start = self.get_artifact(after)
            query = query.where(
                sa.tuple_(kind_text, name_text, a.version)
                > sa.tuple_(
                    self._text(sa.literal(start.kind)),
                    self._text(sa.literal(start.name)),
                    sa.literal(start.version),
                )
            )
        if limit is not None:
            query = query.limit(limit)
        return [_artifact(row) for row in self._select(query)]

    def latest_artifacts(
        self, kind: str, *, after_name: str | None = None, limit: int | None = None
    ) -> list[Artifact]:
        after_name = _rows.page_name(after_name)
        limit = check_limit(limit)
        a = t.artifacts.c
        newest = (
            sa.select(a.name, sa.func.max(a.version).label("version"))
            .where(a.kind == str(kind))
            .group_by(a.name)
        )
        if after_name is not None:
            newest = newest.where(self._text(a.name) > self._text(sa.literal(after_name)))
        latest = newest.subquery()
        query = (
            sa.select(t.artifacts)
            .join(latest, sa.and_(a.name == latest.c.name, a.version == latest.c.version))
            .where(a.kind == str(kind))
            .order_by(self._text(a.name))
        )
        if limit is not None:
            query = query.limit(limit)
        return [_artifact(row) for row in self._select(query)]

    def _text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``column`` compared in code point order, as Python compares text: PostgreSQL
        would otherwise use its database's collation."""
        postgres = self._engine.dialect.name == "postgresql"
        return sa.collate(column, "C") if postgres else column

    def _latest_version(self, kind: str, name: str) -> int | None:
        rows = self._select(
            sa.select(sa.func.max(t.artifacts.c.version).label("latest")).where(
                t.artifacts.c.kind == kind, t.artifacts.c.name == name
            )
        )
        latest: int | None = rows[0]["latest"]
        return latest

    # -- runs ------------------------------------------------------------------------

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

        def work() -> Run:
            with transaction(self._engine, write=True) as c:
                if parent_id is not None:
                    self._require_run(c, parent_id, what="parent run")
                c.execute(sa.insert(t.runs), row)
                if links:
                    self._require_artifacts(c, {link[1] for link in links})
                    created = now_us()
                    rows = [dict(zip(_EVENT_KEYS, link, strict=True)) for link in links]
                    c.execute(sa.insert(t.events), [{**r, "created_at": created} for r in rows])
                count_change(c)
            return _run(row)

        return retrying(self._engine, work)

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

        def work() -> Run:
            with transaction(self._engine, write=True) as c:
                row = self._require_running(c, run_id, f"finish it as {status.value}")
                if points:
                    c.execute(sa.insert(t.metrics), points)
                ended = {"status": status.value, "ended_at": now_us(), "error": text}
                c.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(**ended))
                count_change(c)
                return _run({**row, **ended})

        return retrying(self._engine, work)

    def set_run_tags(self, run_id: str, tags: Mapping[str, Any]) -> Run:
        new_tags = json_object("run tags", tags)

        def work() -> Run:
            with transaction(self._engine, write=True) as c:
                row = self._require_running(c, run_id, "tag it")
                merged = {**row["tags"], **new_tags}
                if merged == row["tags"]:
                    return _run(row)
                c.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(tags=merged))
                updated = _run(self._require_run(c, run_id))
                count_change(c)
                return updated

        return retrying(self._engine, work)

    def get_run(self, run_id: str) -> Run:
        rows = self._select(sa.select(t.runs).where(t.runs.c.id == run_id))
        if not rows:
            raise NotFound(f"no run with id {run_id!r}")
        return _run(rows[0])

    def _require_run(self, c: sa.Connection, run_id: str, *, what: str = "run") -> Row:
        return require_run(c, run_id, what=what)

    def _require_running(self, c: sa.Connection, run_id: str, action: str) -> Row:
        row = self._require_run(c, run_id)
        if row["status"] != RunStatus.RUNNING.value:
            raise _rows.not_running(run_id, row["status"], action)
        return row

    # -- lineage ---------------------------------------------------------------------

    def add_event(self, run_id: str, artifact_id: str, direction: Direction, role: str) -> Event:
        link = _event_key(run_id, artifact_id, direction, role)
        key = dict(zip(_EVENT_KEYS, link, strict=True))

        def work() -> Event:
            with transaction(self._engine, write=True) as c:
                self._require_run(c, run_id)
                if (
                    c.execute(
                        sa.select(t.artifacts.c.id).where(t.artifacts.c.id == artifact_id)
                    ).first()
                    is None
                ):
                    raise NotFound(f"no artifact with id {artifact_id!r}")
                existing = (
                    c.execute(
                        sa.select(t.events).where(*(t.events.c[k] == v for k, v in key.items()))
                    )
                    .mappings()
                    .first()
                )
                if existing is not None:
                    return _event(existing)
                row = {**key, "created_at": now_us()}
                c.execute(sa.insert(t.events), row)
                count_change(c)
                return _event(row)

        return retrying(self._engine, work, retry_on_integrity=True)

    def _require_artifacts(self, c: sa.Connection, ids: set[str]) -> None:
        query = sa.select(t.artifacts.c.id).where(t.artifacts.c.id.in_(sorted(ids)))
        missing = sorted(ids - set(c.execute(query).scalars()))
        if missing:
            raise NotFound(f"no artifact with id {missing[0]!r}")

    def events(self, *, run_id: str | None = None, artifact_id: str | None = None) -> list[Event]:
        query = sa.select(t.events).order_by(t.events.c.id)
        if run_id is not None:
            query = query.where(t.events.c.run_id == run_id)
        if artifact_id is not None:
            query = query.where(t.events.c.artifact_id == artifact_id)
        return [_event(row) for row in self._select(query)]

    # -- metrics ---------------------------------------------------------------------

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        if not points:
            return
        now = now_us()
        rows = [metric_row(run_id, point, now) for point in points]

        def work() -> None:
            with transaction(self._engine, write=True) as c:
                self._require_run(c, run_id)
                c.execute(sa.insert(t.metrics), rows)
                count_change(c)

        retrying(self._engine, work)

    def metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        query = sa.select(
            t.metrics.c.key, t.metrics.c.value, t.metrics.c.step, t.metrics.c.at
        ).where(t.metrics.c.run_id == run_id)
        if key is not None:
            query = query.where(t.metrics.c.key == key)
        query = query.order_by(t.metrics.c.key, t.metrics.c.step, t.metrics.c.at, t.metrics.c.id)
        return [_rows.metric_record({**row, "run_id": run_id}) for row in self._select(query)]

    # -- alerts ----------------------------------------------------------------------

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

        def work() -> Alert:
            with transaction(self._engine, write=True) as c:
                if run_id is not None:
                    self._require_run(c, run_id)
                if artifact_id is not None:
                    found = c.execute(
                        sa.select(t.artifacts.c.id).where(t.artifacts.c.id == artifact_id)
                    ).first()
                    if found is None:
                        raise NotFound(f"no artifact with id {artifact_id!r}")
                c.execute(sa.insert(t.alerts), row)
                count_change(c)
            return _alert(row)

        return retrying(self._engine, work)

    def get_alert(self, alert_id: str) -> Alert:
        rows = self._select(sa.select(t.alerts).where(t.alerts.c.id == alert_id))
        if not rows:
            raise NotFound(f"no alert with id {alert_id!r}")
        return _alert(rows[0])

    def find_alerts(
        self, *, kind: str | None = None, run_id: str | None = None, limit: int | None = None
    ) -> list[Alert]:
        query = sa.select(t.alerts).order_by(t.alerts.c.created_at.desc(), t.alerts.c.id.desc())
        if kind is not None:
            query = query.where(t.alerts.c.kind == kind)
        if run_id is not None:
            query = query.where(t.alerts.c.run_id == run_id)
        limit = check_limit(limit)
        if limit is not None:
            query = query.limit(limit)
        return [_alert(row) for row in self._select(query)]

    # -- the store itself ------------------------------------------------------------

    def info(self) -> StoreInfo:
        def work() -> StoreInfo:
            with transaction(self._engine, write=False) as c:
                counts = {
                    table.name: int(
                        c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    )
                    for table in (
                        t.artifacts,
                        t.runs,
                        t.events,
                        t.metrics,
                        t.aliases,
                        t.alerts,
                        t.schedules,
                        t.deployments,
                        t.review_items,
                    )
                }
                revision = current_revision(c) or "none"
            return StoreInfo(
                url=self.url,
                backend=self._engine.dialect.name,
                schema_revision=revision,
                counts=counts,
            )

        return retrying(self._engine, work)

    def close(self) -> None:
        self._counter.close()
        self._engine.dispose()

    def _select(self, query: sa.Select[Any]) -> list[Row]:
        def work() -> list[Row]:
            with transaction(self._engine, write=False) as c:
                return list(c.execute(query).mappings().all())

        return retrying(self._engine, work)
