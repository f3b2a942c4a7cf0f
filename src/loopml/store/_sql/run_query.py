"""``find_runs`` in the SQL store: filters, conditions on params, tags and latest
metrics, an order, and pages that start after a given run (keyset paging on the order,
then start time and id; runs are never skipped with an offset). A mixin of
:class:`~loopml.store._sql.store.SqlStore`.

A condition SQL decides exactly is the query's WHERE; one with comparisons SQL cannot
decide (see :mod:`loopml.store._sql.conditions`) selects what may match, and each run
read is then decided in Python, page by page, until the page is full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from loopml.errors import NotFound
from loopml.store._records import Run, RunStatus
from loopml.store._rows import run_record as _run
from loopml.store._sql import schema as t
from loopml.store._sql.conditions import Expr, Translator
from loopml.store.query import ABSENT, NUMBER, TEXT, Condition, RunOrder, matches, run_row
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
        wanted: list[Expr] = []
        if id_suffix is not None:
            wanted.append(t.runs.c.id.endswith(id_suffix, autoescape=True))
        filters = {
            "kind": kind,
            "name": name,
            "parent_id": parent_id,
            "status": None if status is None else _status(status).value,
            "fingerprint": fingerprint,
        }
        wanted += [
            t.runs.c[column] == value for column, value in filters.items() if value is not None
        ]
        condition = None if where is None else translate.condition(where)
        exact = condition is None or translate.exact
        if condition is not None:  # NULL: SQL cannot tell; such runs are decided in Python
            wanted.append(condition if exact else sa.func.coalesce(condition, sa.true()))
        keys = _OrderKeys(translate, order_by, newest_first, wanted)
        query = keys.query.order_by(*keys.order)
        if after is not None:
            start = _OrderKeys(translate, order_by, newest_first, [t.runs.c.id == after])
            found = self._select(start.query)
            if not found:
                raise NotFound(f"no run with id {after!r}")
            query = query.where(keys.after(found[0]))
        if exact:
            if limit is not None:
                query = query.limit(limit)
            return [_run(row) for row in self._select(query)]
        assert where is not None
        return self._checked(query, where, keys, limit)

    def _checked(
        self, query: sa.Select[Any], where: Condition, keys: _OrderKeys, limit: int | None
    ) -> list[Run]:
        """The runs of ``query`` that ``where`` holds for, decided in Python, read a
        batch at a time until ``limit`` are found."""
        found: list[Run] = []
        page = query
        while limit is None or len(found) < limit:
            # most runs SQL could not decide do match: read a few more than are missing
            batch = None if limit is None else min(_BATCH, 2 * (limit - len(found)) + 8)
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
    """The runs meeting ``conditions`` and what they are ordered by: with an order, its
    group, number and text, then always start time and id; and which runs come after a
    given one.

    With an order, the runs are read through a subquery that computes each run's
    order values once (``OFFSET 0`` keeps both databases from folding it into the
    outer query), so that ordering and paging on a latest metric read it once a run."""

    def __init__(
        self,
        translate: Translator,
        order: RunOrder | None,
        newest_first: bool,
        conditions: list[Expr],
    ) -> None:
        self.newest_first = newest_first
        self.descending = order is not None and order.descending
        self.ordered = order is not None
        self.order: list[Any] = []
        columns: Any
        if order is None:
            self.query = sa.select(t.runs).where(*conditions)
            columns = t.runs.c
        else:
            group, number, text = translate.order(order)
            values = [number.label(_NUMBER), text.label(_TEXT)]
            if group is not None:
                values.append(group.label(_GROUP))
            inner = sa.select(t.runs, *values).where(*conditions).offset(0).subquery("found")
            self.query = sa.select(inner)
            columns = inner.c
            self.number = columns[_NUMBER]
            self.text_sorted = translate.text_order(columns[_TEXT])
            self.group = (  # the group of a metric: it has a value or it has not
                columns[_GROUP]
                if group is not None
                else sa.case((self.number.is_(None), ABSENT), else_=NUMBER)
            )
            if group is None or not _constant(group):
                self.order.append(self.group)
            within = [(number, self.number), (text, self.text_sorted)]
            self.order += [
                outer.desc() if self.descending else outer
                for made, outer in within
                if not _constant(made)
            ]
        self.started_at, self.id = columns.started_at, columns.id
        self.order += [c.desc() if newest_first else c for c in (self.started_at, self.id)]

    def after(self, row: Row) -> Expr:
        """The runs that come after ``row`` (a run's row with its order values)."""
        later = _beyond(self.started_at, row["started_at"], self.newest_first)
        same_time = self.started_at == row["started_at"]
        tie = sa.or_(later, sa.and_(same_time, _beyond(self.id, row["id"], self.newest_first)))
        if not self.ordered:
            return tie
        number = row[_NUMBER]
        group = row.get(_GROUP, ABSENT if number is None else NUMBER)
        column: Expr
        if group == NUMBER:
            value, column = number, self.number
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
