"""``find_runs`` in the SQL store: filters, conditions on params, tags and latest
metrics, an order, and pages that start after a given run (keyset paging on the order,
then start time and id; never OFFSET). A mixin of
:class:`~loopml.store._sql.store.SqlStore`.

A condition SQL decides exactly is the query's WHERE; one with comparisons SQL cannot
decide (see :mod:`loopml.store._sql.conditions`) selects what may match, and each run
read is then decided in Python, page by page, until the page is full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from loopml._time import from_us
from loopml.errors import NotFound
from loopml.store._records import Run, RunStatus
from loopml.store._sql import schema as t
from loopml.store._sql.conditions import Expr, Translator
from loopml.store.query import NUMBER, TEXT, Condition, RunOrder, matches, run_row
from loopml.store.values import check_limit
from loopml.store.values import run_status as _status

Row = Mapping[Any, Any]
_GROUP, _NUMBER, _TEXT = "order_group", "order_number", "order_text"
_BATCH = 500  # runs read at a time when each must be checked in Python


class RunQueries:
    """The ``find_runs`` method of the metadata store contract."""

    _engine: sa.Engine

    def _select(self, query: sa.Select[Any]) -> list[Row]:
        raise NotImplementedError  # SqlStore's

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        raise NotImplementedError  # Tracking's

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
        limit = check_limit(limit)
        translate = Translator(self._engine.dialect.name)
        keys = _OrderKeys(translate, order_by, newest_first)
        query = sa.select(t.runs, *keys.columns).order_by(*keys.order)
        if id_suffix is not None:
            query = query.where(t.runs.c.id.endswith(id_suffix, autoescape=True))
        filters = {
            "kind": kind,
            "name": name,
            "parent_id": parent_id,
            "status": None if status is None else _status(status).value,
            "fingerprint": fingerprint,
        }
        for column, value in filters.items():
            if value is not None:
                query = query.where(t.runs.c[column] == value)
        condition = None if where is None else translate.condition(where)
        if after is not None:
            position = sa.select(*keys.columns, t.runs.c.started_at, t.runs.c.id)
            start = self._select(position.where(t.runs.c.id == after))
            if not start:
                raise NotFound(f"no run with id {after!r}")
            query = query.where(keys.after(start[0]))
        if condition is None or translate.exact:
            if condition is not None:
                query = query.where(condition)
            if limit is not None:
                query = query.limit(limit)
            return [_run(row) for row in self._select(query)]
        assert where is not None
        maybe = query.where(sa.func.coalesce(condition, sa.true()))
        return self._checked(maybe, where, keys, limit)

    def _checked(
        self, query: sa.Select[Any], where: Condition, keys: _OrderKeys, limit: int | None
    ) -> list[Run]:
        """The runs of ``query`` that ``where`` holds for, decided in Python, read a
        batch at a time until ``limit`` are found."""
        found: list[Run] = []
        batch = None if limit is None else max(_BATCH, 2 * limit)
        page = query
        while limit is None or len(found) < limit:
            rows = self._select(page if batch is None else page.limit(batch))
            metrics = self.latest_metrics([row["id"] for row in rows])
            for row in rows:
                run = _run(row)
                if matches(where, run_row(run, metrics.get(run.id, {}))):
                    found.append(run)
            if batch is None or len(rows) < batch:
                break
            page = query.where(keys.after(rows[-1]))
        return found if limit is None else found[:limit]


class _OrderKeys:
    """What runs are ordered by, as SQL: with an order, its group, number and text
    (:attr:`columns`, read with each run), then always start time and id; and which
    runs come after a given one."""

    def __init__(self, translate: Translator, order: RunOrder | None, newest_first: bool) -> None:
        self.newest_first = newest_first
        self.descending = order is not None and order.descending
        self.columns: list[Any] = []
        self.order: list[Any] = []
        if order is not None:
            group, number, text = translate.order(order)
            self.group, self.number, self.text = group, number, text
            self.text_sorted = translate.text_order(text)
            self.columns = [group.label(_GROUP), number.label(_NUMBER), text.label(_TEXT)]
            within = [x for x in (number, self.text_sorted) if not _constant(x)]
            self.order = [] if _constant(group) else [group]
            self.order += [x.desc() if self.descending else x for x in within]
        c = t.runs.c
        self.order += [col.desc() if newest_first else col for col in (c.started_at, c.id)]
        self.ordered = order is not None

    def after(self, row: Row) -> Expr:
        """The runs that come after ``row`` (a run's row with :attr:`columns`)."""
        c = t.runs.c
        later = _beyond(c.started_at, row["started_at"], self.newest_first)
        tie = sa.or_(
            later,
            sa.and_(c.started_at == row["started_at"], _beyond(c.id, row["id"], self.newest_first)),
        )
        if not self.ordered:
            return tie
        group = row[_GROUP]
        if group == NUMBER:
            value, column = row[_NUMBER], self.number
        elif group == TEXT:
            value, column = row[_TEXT], self.text_sorted
        else:
            return sa.or_(self.group > group, sa.and_(self.group == group, tie))
        beyond = _beyond(column, value, self.descending)
        same = sa.and_(self.group == group, sa.or_(beyond, sa.and_(column == value, tie)))
        return sa.or_(self.group > group, same)


def _constant(expr: Expr) -> bool:
    """Whether an expression is the same for every run (PostgreSQL refuses to order
    by a constant)."""
    return isinstance(expr, sa.sql.elements.Null | sa.sql.elements.BindParameter)


def _beyond(column: Any, value: Any, descending: bool) -> Expr:
    return column < value if descending else column > value  # type: ignore[no-any-return]


def _run(row: Row) -> Run:
    return Run(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        status=RunStatus(row["status"]),
        params=dict(row["params"]),
        parent_id=row["parent_id"],
        fingerprint=row["fingerprint"],
        code=dict(row["code"]),
        environment=dict(row["environment"]),
        tags=dict(row["tags"]),
        host=row["host"],
        pid=row["pid"],
        started_at=from_us(row["started_at"]),
        ended_at=None if row["ended_at"] is None else from_us(row["ended_at"]),
        error=row["error"],
    )
