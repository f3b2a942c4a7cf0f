"""Mergeable column summaries: a table's profile made from the summaries of its parts.

A profile (:func:`loopml.data.profile`) reads every row of its table. When the rows
arrive in parts that are summarized once each (a prediction log's hours), a profile of
any run of parts is the merge of their summaries instead, without the rows:

- counts, missing values, the mean and the sum of squared deviations merge exactly
  (Chan's pairwise update), so the mean and the standard deviation are the table's;
- a numeric column's order statistics merge into brackets that hold whatever the
  parts' unkept values are (:func:`loopml.data._orderstats.merge`): the distances
  read off them carry the brackets into their bounds, and a part kept whole (at most
  ``points`` values) is exact, so a table of small parts is profiled exactly;
- value counts (categories, flags, and numbers with at most ``DISCRETE_MAX``
  distinct values) add up exactly.

A merged profile has no row sample: the KS test on the order statistics stands in
for the sample's tests (see :mod:`loopml.data._drift`), except for a table small
enough to be its own sample, whose every value is known and tested as before.
Its ``distinct`` is exact when the values are counted or all kept, else the parts'
together at most (so a column distinct in each part, as an id is, stays one); it
has no histogram, and no row order (``ascending``). A column holding numbers in some
parts and text or flags in others, or flags in some and text in others, is left out.

>>> import polars as pl
>>> first = column_parts(pl.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}), 64)
>>> second = column_parts(pl.DataFrame({"x": [3.0, 4.0, 5.0], "c": ["a", None, "c"]}), 64)
>>> merged = merged_profile({n: [first[n], second[n]] for n in ("x", "c")}, 6, points=64)
>>> x = merged.column("x")
>>> x.count, x.mean, round(x.std, 4), x.min, x.max
(5, 3.0, 1.5811, 1.0, 5.0)
>>> merged.column("c").values, merged.column("c").missing
((('a', 3), ('b', 1), ('c', 1)), 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.data._orderstats import OrderStats, merge, sketch
from loopml.data._profile import (
    DISCRETE_MAX,
    QUANTILE_STEPS,
    SAMPLE_ROWS,
    TOP_VALUES,
    ColumnProfile,
    Floats,
    Profile,
    TimeSpan,
    Value,
    _parsed_dates,
    logical_type,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

NUMERIC = ("integer", "float")
COUNTED = ("string", "boolean")


@dataclass(frozen=True)
class ColumnPart:
    """One column of one part: ``rows`` (missing ones included), ``missing``, the
    present values' ``mean`` and sum of squared deviations ``m2`` (numbers), their
    ``order_stats`` (numbers), ``distinct`` values, and every value's count when
    counted (``counts``: categories and flags, numbers with few values)."""

    name: str
    dtype: str
    type: str
    rows: int
    missing: int
    distinct: int
    mean: float | None = None
    m2: float = 0.0
    order_stats: OrderStats | None = None
    counts: dict[Value, int] | None = None
    parsed: str | None = None  # text whose every value is a date ("date", "datetime")
    span: TimeSpan | None = None  # ... and when those dates fall

    @property
    def count(self) -> int:
        return self.rows - self.missing


def column_parts(frame: pl.DataFrame, points: int) -> dict[str, ColumnPart]:
    """A summary of each numeric, text or flag column of ``frame``, its order
    statistics at most ``points`` values (other types are left out)."""
    import numpy as np
    import polars as pl

    together = _numeric_parts_together(frame, points)
    found: dict[str, ColumnPart] = {}
    for name, dtype in frame.schema.items():
        kind = logical_type(dtype)
        series = frame.get_column(name)
        base: dict[str, Any] = {"name": name, "dtype": str(dtype), "type": kind}
        if name in together:
            found[name] = together[name]
        elif kind in NUMERIC:
            values = series.cast(pl.Float64).to_numpy()
            ordered = np.sort(values[~np.isnan(values)])
            found[name] = numeric_part(base, frame.height, ordered, points, dtype.is_integer())
        elif kind in COUNTED:
            # renamed first: a column called "n" would clash with the counts' column
            counted = series.drop_nulls().alias("value").value_counts(name="n")
            keys = counted.get_column("value")
            if kind == "string":
                keys = keys.cast(pl.String)
            counts = dict(zip(keys.to_list(), counted["n"].to_list(), strict=True))
            dates = _parsed_dates(series.drop_nulls()) if kind == "string" else None
            found[name] = ColumnPart(
                **base,
                rows=frame.height,
                missing=series.null_count(),
                distinct=len(counts),
                counts=counts,
                parsed=dates[0] if dates else None,
                span=dates[1] if dates else None,
            )
    return found


def _numeric_parts_together(frame: pl.DataFrame, points: int) -> dict[str, ColumnPart]:
    """The parts of the numeric columns of ``frame`` that have no missing value,
    made together: one sort of their matrix, and each array operation of
    :func:`numeric_part` and :func:`~loopml.data._orderstats.sketch` once for them all
    (a log's hour has a few hundred rows of tens of columns: the calls, not the
    values, were the cost). The same parts, bit for bit, as one column at a time."""
    import numpy as np
    import polars as pl

    from loopml.data._orderstats import sketches

    names = [
        name
        for name, dtype in frame.schema.items()
        if logical_type(dtype) in NUMERIC and not frame.get_column(name).null_count()
    ]
    if len(names) < 2 or not frame.height:
        return {}
    matrix = frame.select(pl.col(names).cast(pl.Float64)).to_numpy()  # may be read only
    rows = np.array(matrix.T, order="C")  # each column's values in a row of its own
    rows.sort(axis=1)
    present = ~np.isnan(rows[:, -1])  # NaN sorts last: a column holding one goes alone
    if present.sum() < 2:
        return {}
    names = [name for name, keep in zip(names, present, strict=True) if keep]
    rows = rows[present]
    n = frame.height
    means = rows.mean(axis=1)
    steps = rows[:, 1:] != rows[:, :-1]
    distincts = steps.sum(axis=1) + 1
    with np.errstate(invalid="ignore", over="ignore"):
        m2s = ((rows - means[:, None]) ** 2).sum(axis=1)
    kept = sketches(rows, points)
    schema = frame.schema
    found: dict[str, ColumnPart] = {}
    for j, name in enumerate(names):
        dtype = schema[name]
        counts: dict[Value, int] | None = None
        if distincts[j] <= DISCRETE_MAX:
            counts = _counted_values(rows[j], np.flatnonzero(steps[j]), dtype.is_integer())
        found[name] = ColumnPart(
            name=name,
            dtype=str(dtype),
            type=logical_type(dtype),
            rows=n,
            missing=0,
            distinct=int(distincts[j]),
            mean=float(means[j]),
            m2=float(m2s[j]),
            order_stats=OrderStats(n, *kept[j]),
            counts=counts,
        )
    return found


def numeric_part(
    base: dict[str, Any], rows: int, ordered: npt.NDArray[np.float64], points: int, whole: bool
) -> ColumnPart:
    """The part of a numeric column from its present values, sorted (``whole``: the
    column holds whole numbers, whose counts are kept as ints)."""
    import numpy as np

    n = len(ordered)
    if not n:
        return ColumnPart(**base, rows=rows, missing=rows, distinct=0)
    mean = float(ordered.mean())
    steps = np.flatnonzero(ordered[1:] != ordered[:-1])
    distinct = len(steps) + 1
    counts: dict[Value, int] | None = None
    if distinct <= DISCRETE_MAX:
        counts = _counted_values(ordered, steps, whole)
    with np.errstate(invalid="ignore", over="ignore"):
        m2 = float(((ordered - mean) ** 2).sum())
    return ColumnPart(
        **base,
        rows=rows,
        missing=rows - n,
        distinct=distinct,
        mean=mean,
        m2=m2,
        order_stats=OrderStats(n, *sketch(ordered, points)),
        counts=counts,
    )


def _counted_values(
    ordered: npt.NDArray[np.float64], steps: npt.NDArray[np.int64], whole: bool
) -> dict[Value, int]:
    """Each value's count in a sorted column, from where its values change."""
    import numpy as np

    starts = np.concatenate(([0], steps + 1))
    sizes = np.diff(np.append(starts, len(ordered)))
    cast = int if whole else float
    return {cast(ordered[s]): int(k) for s, k in zip(starts, sizes, strict=True)}


def merged_profile(
    parts: dict[str, list[ColumnPart]], rows: int, *, label: str | None = None, points: int
) -> Profile:
    """The profile of a table of ``rows`` rows whose columns are summarized by
    ``parts`` (a column's rows that no part of it holds are missing values), its
    numeric columns' order statistics at most ``points`` values."""
    merged = (_merged_column(name, found, points, rows) for name, found in parts.items() if found)
    columns = tuple(column for column in merged if column is not None)
    return Profile(rows=rows, duplicate_rows=0, columns=columns, label=label)


def family(kind: str) -> str:
    """What a column's parts must share to merge: numbers (whole or not), text, flags."""
    return "number" if kind in NUMERIC else kind


def _merged_column(
    name: str, parts: list[ColumnPart], points: int, rows: int
) -> ColumnProfile | None:
    """The column of a table of ``rows`` rows from its parts (a part without the
    column is that many missing values); None when the parts hold values of different
    families (numbers in some, text or flags in others), which make no one column."""
    if len({family(part.type) for part in parts}) > 1:
        return None
    first = parts[0]
    count = sum(part.count for part in parts)
    base: dict[str, Any] = {
        "name": name,
        "dtype": first.dtype,
        "type": first.type,
        "rows": rows,
        "missing": rows - count,
    }
    counts = _added_counts(parts)
    if first.type in COUNTED:
        return _counted(base, counts or {}, parts)
    present = [part for part in parts if part.count and part.order_stats is not None]
    if not present:
        return ColumnProfile(**base, distinct=0)
    # a table within the sample keeps every value, as a profile's sample does
    kept = max(points, count) if count <= SAMPLE_ROWS else points
    stats = merge([part.order_stats for part in present if part.order_stats], kept)
    mean, std = _moments(present)
    if counts is not None and len(counts) > DISCRETE_MAX:
        counts = None
    ordered = sorted(counts.items(), key=lambda pair: -pair[1]) if counts is not None else None
    return ColumnProfile(
        **base,
        distinct=_distinct(stats, counts, present),
        min=float(stats.low[0]),
        max=float(stats.high[-1]),
        mean=mean,
        std=std,
        quantiles=Floats(_quantiles(stats)),
        values=tuple(ordered) if ordered is not None else None,
        order_stats=stats,
    )


def _distinct(stats: OrderStats, counts: dict[Value, int] | None, parts: list[ColumnPart]) -> int:
    """Distinct values: exact when counted or every value is kept; else at most the
    parts' together (a column distinct in each part, as an id is, stays distinct)."""
    import numpy as np

    if counts is not None:
        return len(counts)
    if stats.complete:
        return int(np.count_nonzero(stats.low[1:] != stats.low[:-1])) + 1
    return min(sum(part.distinct for part in parts), stats.count)


def _added_counts(parts: list[ColumnPart]) -> dict[Value, int] | None:
    """Every value's count over the parts; None when a part with values has none."""
    total: dict[Value, int] = {}
    for part in parts:
        if part.counts is None:
            if part.count:
                return None
            continue
        for value, n in part.counts.items():
            total[value] = total.get(value, 0) + n
    return total


def _counted(
    base: dict[str, Any], counts: dict[Value, int], parts: list[ColumnPart]
) -> ColumnProfile:
    """A text or flag column from its values' counts, as a profile keeps them: the most
    common first (ties by value), the first ``TOP_VALUES`` shown, every count kept
    beside them when there are more; text whose every value is a date in every part
    keeps that, with its span."""
    import polars as pl

    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    every = None
    if len(ordered) > TOP_VALUES:
        dtype = pl.Boolean if base["type"] == "boolean" else pl.String
        every = pl.DataFrame(
            {"value": [v for v, _ in ordered], "n": [n for _, n in ordered]},
            schema={"value": dtype, "n": pl.Int64},
        )
    present = [part for part in parts if part.count]
    parsed = {part.parsed for part in present}
    spans = [part.span for part in present if part.span is not None]
    dated = len(parsed) == 1 and None not in parsed and len(spans) == len(present)
    return ColumnProfile(
        **base,
        distinct=len(ordered),
        values=tuple(ordered[:TOP_VALUES]),
        other=sum(n for _, n in ordered[TOP_VALUES:]),
        all_values=every,
        parsed=parsed.pop() if dated else None,
        span=_merged_span(spans) if dated else None,
    )


def _merged_span(spans: list[TimeSpan]) -> TimeSpan:
    """When the parts' dates fall together: the first and last exactly; the step and
    the largest gap are the parts' largest (a report's words, never a test's)."""
    return TimeSpan(
        first=min(span.first for span in spans),
        last=max(span.last for span in spans),
        step=max(span.step for span in spans),
        largest_gap=max(span.largest_gap for span in spans),
        ascending=all(span.ascending for span in spans),
    )


def _moments(parts: list[ColumnPart]) -> tuple[float, float]:
    """The mean and sample standard deviation of the parts' values together."""
    n, mean, m2 = 0, 0.0, 0.0
    for part in parts:
        k, other = part.count, part.mean or 0.0
        delta = other - mean
        total = n + k
        mean += delta * k / total
        m2 += part.m2 + delta * delta * n * k / total
        n = total
    return mean, math.sqrt(m2 / (n - 1)) if n > 1 else 0.0


def _quantiles(stats: OrderStats) -> npt.NDArray[np.float64]:
    """Quantiles at i/QUANTILE_STEPS read off the order statistics: at each position
    the middle of the bracket that holds its rank (exact where the value is kept);
    what a report draws, not what a distance is computed from."""
    import numpy as np

    starts, low, high = stats.segments()
    position = np.floor(np.linspace(0.0, stats.count - 1, QUANTILE_STEPS + 1)).astype(np.int64)
    at = np.searchsorted(starts, position, side="right") - 1
    result: npt.NDArray[np.float64] = (low[at] + high[at]) / 2
    return result
