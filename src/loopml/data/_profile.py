"""Profiles: the statistics of a table, computed once when a version is added.

Every later comparison (validation, drift, skew, diff, reports) reads two stored
profiles instead of the data, so comparing two 10M-row versions costs milliseconds.
A numeric column is sorted once; everything else is read off the sorted values:
quantiles at 1,001 levels (from which distances, CDFs and shares outside a range
follow), the histogram, the distinct count and, for columns with few values, exact
value counts. A row sample of at most 5,000 rows is kept for tests that need raw
values (the KS test's p-value), so those are exact for the sizes they report.

>>> import polars as pl
>>> p = profile(pl.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None]}))
>>> p.rows, p.column("x").missing, p.column("x").max, p.column("c").values
(4, 1, 4.0, (('a', 2), ('b', 1)))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

FORMAT = "loopml.profile/1"
QUANTILE_STEPS = 1000  # quantiles at i/1000, i = 0..1000
HISTOGRAM_BINS = 20
TOP_VALUES = 1000  # value counts kept per categorical column; the rest is "other"
DISCRETE_MAX = 20  # numeric columns with at most this many distinct values keep counts
SAMPLE_ROWS = 5000

Value = str | int | float | bool


@dataclass(frozen=True)
class Histogram:
    """Counts of non-missing values in equal-width bins; ``edges`` has one more entry."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class ColumnProfile:
    """One column's statistics. ``type`` is the logical type (integer, float, string,
    boolean, date, datetime, duration, other) and ``dtype`` the exact Polars one."""

    name: str
    dtype: str
    type: str
    rows: int
    missing: int
    distinct: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: tuple[float, ...] | None = None
    histogram: Histogram | None = None
    values: tuple[tuple[Value, int], ...] | None = None
    other: int = 0  # non-missing values not counted in ``values``

    @property
    def count(self) -> int:
        """Non-missing values."""
        return self.rows - self.missing

    @property
    def missing_fraction(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "float")

    @property
    def categorical(self) -> bool:
        return self.type in ("string", "boolean")

    def proportions(self) -> dict[Value, float]:
        """Share of non-missing values per counted value (empty without counts)."""
        if not self.values or not self.count:
            return {}
        return {value: n / self.count for value, n in self.values}


@dataclass(frozen=True)
class Profile:
    """A table's statistics: rows, duplicate rows, one :class:`ColumnProfile` per column,
    the label column if one was named, and a row sample (not part of ``to_json``)."""

    rows: int
    duplicate_rows: int
    columns: tuple[ColumnProfile, ...]
    label: str | None = None
    sample: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def sample_values(self, name: str) -> npt.NDArray[np.float64] | None:
        """The sampled non-missing values of a numeric column, as floats."""
        if self.sample is None or name not in self.sample.columns:
            return None
        import numpy as np

        values = self.sample[name].drop_nulls().cast(_float64()).to_numpy()
        return np.asarray(values[~np.isnan(values)], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "label": self.label,
            "quantile_steps": QUANTILE_STEPS,
            "columns": [_column_json(column) for column in self.columns],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], sample: pl.DataFrame | None = None) -> Profile:
        if data.get("format") != FORMAT:
            raise InvalidInput(
                f"profile format {data.get('format')!r} is not {FORMAT!r}: it was written "
                "by another loopml; upgrade loopml to read it"
            )
        return cls(
            rows=data["rows"],
            duplicate_rows=data["duplicate_rows"],
            label=data.get("label"),
            columns=tuple(_column_from_json(column) for column in data["columns"]),
            sample=sample,
        )


def profile(table: pl.DataFrame, *, label: str | None = None) -> Profile:
    """Compute the profile of a Polars DataFrame (see :func:`loopml.data.as_polars`)."""
    import polars as pl

    if label is not None and label not in table.columns:
        raise InvalidInput(
            f"label column {label!r} is not in the table; its columns are "
            f"{', '.join(table.columns)}"
        )
    rows = table.height
    columns = tuple(_profile_column(table[name], rows) for name in table.columns)
    sample = table if rows <= SAMPLE_ROWS else table.sample(n=SAMPLE_ROWS, seed=0)
    numeric = [c.name for c in columns if c.numeric]
    return Profile(
        rows=rows,
        duplicate_rows=_duplicate_rows(table),
        columns=columns,
        label=label,
        sample=sample.select(numeric) if numeric else pl.DataFrame(),
    )


def logical_type(dtype: pl.DataType) -> str:
    import polars as pl

    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if isinstance(dtype, pl.Duration):
        return "duration"
    return "other"


def _float64() -> pl.DataType:
    import polars as pl

    return pl.Float64()


def _profile_column(series: pl.Series, rows: int) -> ColumnProfile:
    kind = logical_type(series.dtype)
    base: dict[str, Any] = {
        "name": series.name,
        "dtype": str(series.dtype),
        "type": kind,
        "rows": rows,
    }
    if kind in ("integer", "float"):
        return _numeric(series, base)
    if kind in ("date", "datetime", "duration"):
        return _temporal(series, base)
    if kind in ("string", "boolean"):
        return _categorical(series, base)
    return ColumnProfile(**base, missing=series.null_count(), distinct=series.n_unique())


def _numeric(series: pl.Series, base: dict[str, Any]) -> ColumnProfile:
    import numpy as np

    present = series.drop_nulls()
    values = present.cast(_float64()).to_numpy()
    if series.dtype.is_float():
        values = values[~np.isnan(values)]
    missing = base["rows"] - len(values)
    if not len(values):
        return ColumnProfile(**base, missing=missing, distinct=0)
    ordered = np.sort(values)
    steps = np.diff(ordered) != 0
    distinct = int(np.count_nonzero(steps)) + 1
    counts = None
    if distinct <= DISCRETE_MAX:
        starts = np.concatenate(([0], np.flatnonzero(steps) + 1))
        sizes = np.diff(np.concatenate((starts, [len(ordered)])))
        cast = int if series.dtype.is_integer() else float
        pairs = sorted(
            ((cast(ordered[s]), int(n)) for s, n in zip(starts, sizes, strict=True)),
            key=lambda pair: -pair[1],
        )
        counts = tuple(pairs)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return ColumnProfile(
        **base,
        missing=missing,
        distinct=distinct,
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=float(values.mean()),
        std=std,
        quantiles=tuple(float(q) for q in sorted_quantiles(ordered)),
        histogram=_histogram(ordered),
        values=counts,
    )


def _temporal(series: pl.Series, base: dict[str, Any]) -> ColumnProfile:
    import numpy as np
    import polars as pl

    present = series.drop_nulls()
    missing = base["rows"] - len(present)
    if not len(present):
        return ColumnProfile(**base, missing=missing, distinct=0)
    ordered = np.sort(present.to_physical().cast(pl.Int64).to_numpy()).astype(np.float64)
    return ColumnProfile(
        **base,
        missing=missing,
        distinct=int(np.count_nonzero(np.diff(ordered))) + 1,
        min=float(ordered[0]),
        max=float(ordered[-1]),
        quantiles=tuple(float(q) for q in sorted_quantiles(ordered)),
        histogram=_histogram(ordered),
    )


def _categorical(series: pl.Series, base: dict[str, Any]) -> ColumnProfile:
    import polars as pl

    present = series.drop_nulls()
    # Renamed first: a column called "n" would clash with the count column.
    counted = (
        present.alias("value")
        .value_counts(name="n")
        .sort(["n", "value"], descending=[True, False], maintain_order=True)
    )
    keys = counted["value"]
    if series.dtype != pl.Boolean:
        keys = keys.cast(pl.String)
    values = keys.to_list()
    numbers = counted["n"].to_list()
    return ColumnProfile(
        **base,
        missing=base["rows"] - len(present),
        distinct=counted.height,
        values=tuple(zip(values[:TOP_VALUES], numbers[:TOP_VALUES], strict=True)),
        other=int(sum(numbers[TOP_VALUES:])),
    )


def sorted_quantiles(ordered: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Quantiles at i/QUANTILE_STEPS of sorted values (linear interpolation)."""
    import numpy as np

    position = np.linspace(0.0, len(ordered) - 1, QUANTILE_STEPS + 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(ordered) - 1)
    fraction = position - low
    result: npt.NDArray[np.float64] = ordered[low] + fraction * (ordered[high] - ordered[low])
    return result


def _histogram(ordered: npt.NDArray[np.float64]) -> Histogram:
    import numpy as np

    low, high = float(ordered[0]), float(ordered[-1])
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return Histogram(edges=(low, high), counts=(len(ordered),))
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    cuts = np.searchsorted(ordered, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], cuts, [len(ordered)])))
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


def _duplicate_rows(table: pl.DataFrame) -> int:
    """Rows equal to an earlier row, by a 64-bit hash of each row."""
    import numpy as np

    if table.height < 2 or not table.width:
        return 0
    hashes = np.sort(table.hash_rows(seed=0).to_numpy())
    return int(np.count_nonzero(hashes[1:] == hashes[:-1]))


def _column_json(column: ColumnProfile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": column.name,
        "dtype": column.dtype,
        "type": column.type,
        "rows": column.rows,
        "missing": column.missing,
        "distinct": column.distinct,
    }
    for key in ("min", "max", "mean", "std"):
        value = getattr(column, key)
        if value is not None:
            data[key] = _finite(value)
    if column.quantiles is not None:
        data["quantiles"] = [_finite(q) for q in column.quantiles]
    if column.histogram is not None:
        data["histogram"] = {
            "edges": [_finite(e) for e in column.histogram.edges],
            "counts": list(column.histogram.counts),
        }
    if column.values is not None:
        data["values"] = [[value, n] for value, n in column.values]
        data["other"] = column.other
    return data


def _finite(value: float) -> float | str:
    """JSON has no inf or NaN: write them as strings."""
    return value if math.isfinite(value) else str(value)


def _number(value: float | str) -> float:
    return float(value)


def _column_from_json(data: dict[str, Any]) -> ColumnProfile:
    histogram = data.get("histogram")
    values = data.get("values")
    return ColumnProfile(
        name=data["name"],
        dtype=data["dtype"],
        type=data["type"],
        rows=data["rows"],
        missing=data["missing"],
        distinct=data["distinct"],
        min=_number(data["min"]) if "min" in data else None,
        max=_number(data["max"]) if "max" in data else None,
        mean=_number(data["mean"]) if "mean" in data else None,
        std=_number(data["std"]) if "std" in data else None,
        quantiles=tuple(_number(q) for q in data["quantiles"]) if "quantiles" in data else None,
        histogram=Histogram(
            edges=tuple(_number(e) for e in histogram["edges"]), counts=tuple(histogram["counts"])
        )
        if histogram
        else None,
        values=tuple((value, n) for value, n in values) if values is not None else None,
        other=data.get("other", 0),
    )
