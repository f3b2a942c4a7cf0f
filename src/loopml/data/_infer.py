"""A schema inferred from a reference version: what each column is, and the limits its
size allows.

Each column gets a role (see :data:`loopml.data._schema.ROLES`), and the role decides
its rules:

- an **identifier** (distinct in every row, and named like one or increasing row by
  row) and a **timestamp** (dates or times, parsed from text too) get no range, no
  domain and no drift test: new batches bring new ids and later dates by design;
- a **category** (at most 100 values, each seen more than once on the whole) gets a
  domain; a **text** column (more values) does not;
- a **calendar** part (a whole-number column named year, month, day, hour, ...) gets
  the calendar's own bounds (month 1 to 12) and no drift test: time-ordered batches
  move through it;
- every other number gets a range one reference range wide on each side of the
  reference's (18 to 42 allows -6 to 66), with 0 as the lower bound of a **count** or
  **measure** never negative in the reference: a negative value there is impossible
  (a sentinel such as -1), and so is a value many ranges away (a unit change);
- every column gets a limit on missing values.

A limit is the 99% upper bound of the share the reference showed (0 missing in 300
rows allows up to 1.5%; in 100,000 rows, 0.005%), and a batch breaks it only when its
own counts make that certain (:mod:`loopml.data._evidence`). So a small first version
gives loose limits, and a later batch is never refused for what a sample of its size
shows by chance.

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> table = pl.DataFrame({"id": range(300), "n": [0, 1, 2] * 100, "x": [-1.5, 2.0, 3.5] * 100})
>>> schema = infer_schema(profile(table))
>>> [(c.name, c.role, c.min, c.max) for c in schema.columns]
[('id', 'identifier', None, None), ('n', 'count', 0.0, 4.0), ('x', 'number', -6.5, 8.5)]
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from loopml.data import _evidence
from loopml.data._schema import DOMAIN_MAX, ColumnSchema, Schema

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile

ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid|index|idx)$|[a-z0-9](Id|ID)$", re.IGNORECASE)
# Whole-number parts of a date or time, by name, and the values they can take.
CALENDAR = {
    "year": (1, 9999),
    "quarter": (1, 4),
    "month": (1, 12),
    "week": (0, 53),
    "weekofyear": (0, 53),
    "day": (1, 31),
    "dayofmonth": (1, 31),
    "dayofweek": (0, 7),
    "weekday": (0, 7),
    "dayofyear": (1, 366),
    "hour": (0, 24),
    "minute": (0, 59),
    "second": (0, 60),
}
ID_DENSITY = 4  # an increasing id skips at most 3 of every 4 whole numbers
MIN_ID_ROWS = 20  # fewer distinct rows say little about a column being an identifier


def infer_schema(profile: Profile) -> Schema:
    """The schema a reference version implies: its columns' roles, with limits sized
    by its rows."""
    rows = profile.rows
    return Schema(
        columns=tuple(infer_column(column) for column in profile.columns),
        min_rows=max(1, rows // 10),
        max_duplicate_fraction=inferred_limit(profile.duplicate_rows, rows),
        label=profile.label,
        rows=rows,
    )


def infer_column(column: ColumnProfile) -> ColumnSchema:
    role = column_role(column)
    schema = ColumnSchema(
        name=column.name,
        type=column.type,
        role=role,
        max_missing=inferred_limit(column.missing, column.rows),
        seen={"missing": column.missing},
    )
    if role in ("identifier", "timestamp"):
        return replace(schema, drift_off=True)
    bounds = _bounds(column, role)
    if bounds is not None:
        schema = replace(
            schema,
            min=bounds[0],
            max=bounds[1],
            max_outside_range=inferred_limit(0, column.count),
            seen={**schema.seen, "outside_range": 0},
            drift_off=role == "calendar",
        )
    if role == "category" and column.values is not None:
        once = sum(1 for _, n in column.values if n == 1)
        schema = replace(
            schema,
            domain=tuple(sorted((v for v, _ in column.values), key=str)),
            # Good-Turing: the share of values seen once estimates the share of values
            # not seen at all.
            max_outside_domain=inferred_limit(once, column.count),
            seen={**schema.seen, "outside_domain": once},
        )
    return schema


def _bounds(column: ColumnProfile, role: str) -> tuple[float, float] | None:
    """Where a number's values can be: a calendar part's own range; else one reference
    range beyond the reference's on each side, and never below 0 when it never was."""
    if role == "calendar":
        first, last = CALENDAR[_calendar_name(column.name)]
        return float(first), float(last)
    if role not in ("count", "measure", "number") or column.min is None or column.max is None:
        return None
    spread = column.max - column.min
    low = column.min - spread
    if role in ("count", "measure"):
        low = max(low, 0.0)
    return _round(low), _round(column.max + spread)


def _round(value: float) -> float:
    """Six significant digits: readable in the file."""
    return float(f"{value:.6g}")


def _calendar_name(name: str) -> str:
    return name.lower().replace("_", "").replace(" ", "")


def column_role(column: ColumnProfile) -> str:
    if not column.count:
        return "empty"
    if column.span is not None or column.type in ("date", "datetime"):
        return "timestamp"
    if column.type == "integer" and _calendar_name(column.name) in CALENDAR:
        low, high = CALENDAR[_calendar_name(column.name)]
        if (
            column.min is not None
            and column.max is not None
            and low <= column.min <= column.max <= high
        ):
            return "calendar"
    if _identifier(column):
        return "identifier"
    if column.distinct == 1:
        return "constant"
    if column.type == "boolean":
        return "flag"
    if column.numeric:
        if column.min is not None and column.min >= 0:
            return "count" if column.type == "integer" else "measure"
        return "number"
    if column.categorical:
        repeated = column.distinct <= DOMAIN_MAX and column.distinct * 2 <= column.count
        return "category" if repeated and not column.other else "text"
    return "text"  # durations and other types: no range and no domain


def _identifier(column: ColumnProfile) -> bool:
    if column.type not in ("integer", "string") or column.distinct != column.count:
        return False
    if column.count < MIN_ID_ROWS:
        return False
    if ID_NAME.search(column.name):
        return True
    if column.ascending is not True or column.min is None or column.max is None:
        return False
    # Counting up row by row, densely (a sorted measure skips most whole numbers).
    return column.max - column.min + 1 <= ID_DENSITY * column.count


def inferred_limit(count: int, rows: int) -> float:
    """The share a reference of ``rows`` rows allows, having shown ``count``: its 99%
    upper bound, rounded up to four decimals to read well in the file."""
    return min(1.0, math.ceil(_evidence.upper_bound(count, rows) * 10_000) / 10_000)
