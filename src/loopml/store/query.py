"""Run queries every backend answers alike: a condition on runs — a small typed tree of
comparisons of their fields, parameters, tags and latest metrics — and an order.

``loopml runs list --where`` parses its text into this tree (see
:mod:`loopml.tracking`) and :meth:`~loopml.store.MetadataStore.find_runs` takes it;
nothing in it is SQL. The functions here are the meaning of a query: a backend returns
the runs :func:`matches` accepts, in the order :func:`ordered` gives, and
:func:`select_runs` is the whole query over runs held in memory.

>>> from loopml.store.query import Compare, Constant, Field, RunOrder, matches, ordered
>>> good = Compare((Field("metrics", "auc"), Constant(0.9)), (">",))
>>> matches(good, {"metrics": {"auc": 0.93}}), matches(good, {"metrics": {}})
(True, False)
>>> rows = [{"name": "a", "metrics": {"auc": 0.8}}, {"name": "b", "metrics": {}},
...         {"name": "c", "metrics": {"auc": 0.9}}]
>>> [row["name"] for row in ordered(rows, RunOrder(Field("metrics", "auc"), descending=True))]
['c', 'a', 'b']
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from loopml.errors import InvalidInput
from loopml.store._records import Run

__all__ = [
    "ABSENT",
    "MAPPINGS",
    "NUMBER",
    "OPERATORS",
    "ORDER_FIELDS",
    "OTHER",
    "RUN_FIELDS",
    "TEXT",
    "And",
    "Compare",
    "Condition",
    "Constant",
    "Field",
    "Items",
    "Not",
    "Operand",
    "Or",
    "RunOrder",
    "matches",
    "order_value",
    "ordered",
    "run_row",
    "select_runs",
]

MAPPINGS = ("metrics", "params", "tags")
RUN_FIELDS = ("id", "name", "kind", "status", "parent", "host")
ORDER_FIELDS = (*RUN_FIELDS, "started_at", "seconds")
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")

Row = Mapping[str, Any]
_R = TypeVar("_R", bound=Row)


@dataclass(frozen=True, slots=True)
class Field:
    """A value of a run: ``Field("metrics", "auc")`` (its latest value),
    ``Field("params", "C")``, ``Field("tags", "team")``, or ``Field("run", "status")``
    for one of :data:`RUN_FIELDS` (:data:`ORDER_FIELDS` in an order)."""

    scope: str
    key: str

    def __post_init__(self) -> None:
        if self.scope not in (*MAPPINGS, "run"):
            raise InvalidInput(
                f"field scope {self.scope!r} is not one of metrics, params, tags, run"
            )
        if not isinstance(self.key, str):
            raise InvalidInput(f"field key {self.key!r} must be text")
        if self.scope == "run" and self.key not in ORDER_FIELDS:
            raise InvalidInput(f"run field {self.key!r} is not one of {', '.join(ORDER_FIELDS)}")


@dataclass(frozen=True, slots=True)
class Constant:
    """A number, text, ``True``/``False`` or ``None``."""

    value: int | float | str | bool | None

    def __post_init__(self) -> None:
        if self.value is not None and not isinstance(self.value, int | float | str):
            raise InvalidInput(
                f"constant {self.value!r} must be a number, text, True, False or None"
            )


@dataclass(frozen=True, slots=True)
class Items:
    """A list of operands, as the right side of ``in``: ``(0.5, 1)``."""

    items: tuple[Operand, ...]


Operand = Field | Constant | Items


@dataclass(frozen=True, slots=True)
class Compare:
    """``operands[0] operators[0] operands[1] ...``, chained as Python chains
    comparisons: ``0 < metrics.auc <= 1`` holds when every pair holds."""

    operands: tuple[Operand, ...]
    operators: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2 or len(self.operators) != len(self.operands) - 1:
            raise InvalidInput(
                f"a comparison of {len(self.operands)} operands needs "
                f"{max(len(self.operands) - 1, 1)} operators, not {len(self.operators)}"
            )
        for op in self.operators:
            if op not in OPERATORS:
                raise InvalidInput(f"operator {op!r} is not one of {', '.join(OPERATORS)}")
        for field in _fields(self.operands):
            if field.scope == "run" and field.key not in RUN_FIELDS:
                raise InvalidInput(
                    f"run field {field.key!r} orders runs but is not compared; compare "
                    f"one of {', '.join(RUN_FIELDS)}"
                )


@dataclass(frozen=True, slots=True)
class And:
    """Every part holds."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Some part holds."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold."""

    part: Condition


Condition = Compare | And | Or | Not


@dataclass(frozen=True, slots=True)
class RunOrder:
    """Runs by one field, low to high or, with ``descending``, high to low: numbers
    first, then text (and ``None`` as the text ``'None'``), then lists and tables, then
    the runs without the field; runs that tie keep the default order."""

    field: Field
    descending: bool = False


def _fields(operands: Iterable[Operand]) -> Iterable[Field]:
    for operand in operands:
        if isinstance(operand, Field):
            yield operand
        elif isinstance(operand, Items):
            yield from _fields(operand.items)


# -- the meaning of a condition --------------------------------------------------------

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}


def run_row(run: Run, metrics: Mapping[str, float]) -> dict[str, Any]:
    """A run as a condition reads it (and as ``loopml runs list --json`` shows it):
    its fields, ``started_at`` as ISO text, ``seconds`` it took (None while it runs),
    its params, tags and the latest value of each metric."""
    seconds = (run.ended_at - run.started_at).total_seconds() if run.ended_at else None
    return {
        "id": run.id,
        "name": run.name,
        "kind": run.kind,
        "status": run.status.value,
        "parent": run.parent_id,
        "host": run.host,
        "started_at": run.started_at.isoformat(),
        "seconds": seconds,
        "params": run.params,
        "metrics": dict(metrics),
        "tags": run.tags,
    }


def _value(operand: Operand, row: Row) -> Any:
    if isinstance(operand, Constant):
        return operand.value
    if isinstance(operand, Items):
        return [_value(item, row) for item in operand.items]
    if operand.scope == "run":
        return row.get(operand.key, _MISSING)
    return (row.get(operand.scope) or {}).get(operand.key, _MISSING)


def matches(condition: Condition, row: Row) -> bool:
    """Whether the run ``row`` (see :func:`run_row`) meets ``condition``. A comparison
    with a field the run does not have is false, and so is one Python cannot make (a
    number against text with ``<``); otherwise Python's own comparison decides."""
    if isinstance(condition, And):
        return all(matches(part, row) for part in condition.parts)
    if isinstance(condition, Or):
        return any(matches(part, row) for part in condition.parts)
    if isinstance(condition, Not):
        return not matches(condition.part, row)
    values = [_value(operand, row) for operand in condition.operands]
    for op, left, right in zip(condition.operators, values, values[1:], strict=False):
        if left is _MISSING or right is _MISSING:
            return False
        try:
            if not _COMPARE[op](left, right):
                return False
        except TypeError:  # a number against text: not a match
            return False
    return True


# -- the meaning of an order -----------------------------------------------------------

NUMBER, TEXT, OTHER, ABSENT = range(4)  # the groups of an order, first to last


def order_value(row: Row, field: Field) -> tuple[int, float | str | None]:
    """Where ``row`` falls in an order by ``field``: its group (numbers, text, other
    values, runs without it) and the number or text it is sorted by within the group."""
    if field.scope == "run":
        found = row.get(field.key)
        if found is None:
            return ABSENT, None
    else:
        found = (row.get(field.scope) or {}).get(field.key, _MISSING)
        if found is _MISSING:
            return ABSENT, None
        if found is None:
            return TEXT, "None"
    if isinstance(found, float):
        return (NUMBER, found) if found == found else (ABSENT, None)  # NaN: absent
    if isinstance(found, int):
        try:
            return NUMBER, float(found)
        except OverflowError:  # beyond a double: the infinity it is nearest
            return NUMBER, math.inf if found > 0 else -math.inf
    if isinstance(found, str):
        return TEXT, found
    return OTHER, None


def ordered(rows: Iterable[_R], order: RunOrder) -> list[_R]:
    """``rows`` in ``order``; rows that tie keep the order they came in."""
    groups: list[list[tuple[Any, _R]]] = [[], [], [], []]
    for row in rows:
        group, value = order_value(row, order.field)
        groups[group].append((value, row))
    for group in (NUMBER, TEXT):
        groups[group].sort(key=lambda pair: pair[0], reverse=order.descending)
    return [row for group in groups for _, row in group]


def select_runs(
    runs: Iterable[tuple[Run, Mapping[str, float]]],
    *,
    where: Condition | None = None,
    order_by: RunOrder | None = None,
    newest_first: bool = False,
    after: tuple[Run, Mapping[str, float]] | None = None,
    limit: int | None = None,
) -> list[Run]:
    """The runs of ``runs`` (each with its latest metrics) that meet ``where``, in the
    order :meth:`~loopml.store.MetadataStore.find_runs` gives them: by ``order_by``,
    ties (and everything without it) by start time and id, oldest first or newest
    first; only those that come after the run ``after`` (with its latest metrics; it
    need be neither among ``runs`` nor meet ``where``), at most ``limit``. A backend
    holding its runs in memory answers ``find_runs`` with it."""
    pairs = {run.id: (run, metrics) for run, metrics in runs}
    if after is not None:
        pairs.setdefault(after[0].id, after)
    rows: list[tuple[Row, Run]] = sorted(
        ((run_row(run, metrics), run) for run, metrics in pairs.values()),
        key=lambda pair: (pair[1].started_at, pair[1].id),
        reverse=newest_first,
    )
    if order_by is not None:
        runs_of = {id(row): run for row, run in rows}
        rows = [(row, runs_of[id(row)]) for row in ordered([row for row, _ in rows], order_by)]
    if after is not None:
        position = next(i for i, (_, run) in enumerate(rows) if run.id == after[0].id)
        rows = rows[position + 1 :]
    found = [run for row, run in rows if where is None or matches(where, row)]
    return found if limit is None else found[:limit]
