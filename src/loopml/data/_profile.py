"""Profiles: the statistics of a table, computed once when a version is added.

Every later comparison (validation, drift, skew, diff, reports) reads two stored
profiles instead of the data, so comparing two 10M-row versions costs milliseconds.
A numeric column is sorted once; everything else is read off the sorted values:
quantiles at 1,001 levels (from which distances, CDFs and shares outside a range
follow), the histogram, the distinct count and, for columns with few values, exact
value counts. A row sample of at most 5,000 rows is kept for tests that need raw
values (the KS test's p-value), so those are exact for the sizes they report.

The drift distances are exact or carry a proven bound that does not grow with the
table: a table of at most 5,000 rows is its own sample, so its distances come from
every value; a larger one keeps, per numeric column, order statistics (every value of
a column of at most a few thousand, else its exact tails and ranks in between; see
:mod:`loopml.data._orderstats`), and, per categorical column with more distinct values
than the 1,000 shown, the count of every value (``all_values``).

>>> import polars as pl
>>> p = profile(pl.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None]}))
>>> p.rows, p.column("x").missing, p.column("x").max, p.column("c").values
(4, 1, 4.0, (('a', 2), ('b', 1)))
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from loopml.data._orderstats import POINTS_MIN, OrderStats
from loopml.data._sample import Sample
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

FORMAT = "loopml.profile/1"  # one JSON document, quantiles inline (``to_json``)
# As stored with a version: the JSON without quantiles, plus every column's quantiles
# as the rows of one float64 matrix in a .npy blob (``to_stored``); since /3 also the
# order statistics of numeric columns (a 2 x N float64 .npy: ranks, values; each
# column names its slice) and every value's count of categorical columns with more
# than TOP_VALUES values (an Arrow IPC table: column, value, n). /2 is still read:
# without them, distances fall back to the sample or the quantiles, with a wider bound.
STORED_FORMAT = "loopml.profile/3"
READ_FORMATS = (FORMAT, "loopml.profile/2", STORED_FORMAT)
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
class TimeSpan:
    """When a column's dates or times fall, in seconds since 1970 (UTC): the first and
    last, the usual step between consecutive distinct values (the median) and the
    largest one, and whether the rows are in time order."""

    first: float
    last: float
    step: float
    largest_gap: float
    ascending: bool


class Floats(Sequence[float]):
    """An immutable sequence of floats held as one NumPy array.

    A profile keeps 1,001 quantiles per numeric column: as Python floats, those of a
    20,000-column table would take 640 MB; as arrays, 160 MB. ``np.asarray`` of it
    costs no copy.

    >>> q = Floats([0.0, 0.5, 1.0])
    >>> q[1], len(q), q == (0.0, 0.5, 1.0), list(q[1:])
    (0.5, 3, True, [0.5, 1.0])
    """

    __slots__ = ("_array",)

    def __init__(self, values: Any) -> None:
        import numpy as np

        array = np.asarray(values, dtype=np.float64).view()  # a view: no copy of an array
        array.flags.writeable = False
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Floats: ...
    def __getitem__(self, index: int | slice) -> float | Floats:
        if isinstance(index, slice):
            return Floats(self._array[index])
        return float(self._array[index])

    def __iter__(self) -> Iterator[float]:
        return iter(self._array.tolist())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> npt.NDArray[np.float64]:
        if dtype is None or dtype == self._array.dtype:
            return self._array.copy() if copy else self._array
        result: npt.NDArray[np.float64] = self._array.astype(dtype)
        return result

    def __eq__(self, other: object) -> bool:
        import numpy as np

        if not isinstance(other, Floats | tuple | list):
            return NotImplemented
        return bool(np.array_equal(self._array, np.asarray(other, dtype=np.float64)))

    def __hash__(self) -> int:
        return hash(self._array.tobytes())

    def __repr__(self) -> str:
        return f"Floats({self._array.tolist()!r})"

    def to_list(self) -> list[float | str]:
        """As JSON can hold them: inf and NaN as strings."""
        values: list[float] = self._array.tolist()
        if all(math.isfinite(v) for v in values):
            return list(values)
        return [_finite(v) for v in values]


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
    quantiles: Floats | None = None
    histogram: Histogram | None = None
    values: tuple[tuple[Value, int], ...] | None = None
    other: int = 0  # non-missing values not counted in ``values``
    # Dates and times (of a text column too, when every value parses as one: then
    # ``parsed`` says which).
    span: TimeSpan | None = None
    parsed: str | None = None
    # For whole numbers that are all distinct: whether they increase row by row.
    ascending: bool | None = None
    # Numeric columns of tables larger than the sample: the kept order statistics.
    order_stats: OrderStats | None = None
    # Categorical columns with more than TOP_VALUES values: every value's count, as a
    # Polars table (value: String or Boolean, n: Int64), most common first.
    all_values: pl.DataFrame | None = field(default=None, compare=False, repr=False)

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
    the label column if one was named, and a row sample and the rows' hashes (neither
    part of ``to_json``)."""

    rows: int
    duplicate_rows: int
    columns: tuple[ColumnProfile, ...]
    label: str | None = None
    sample: Sample | None = field(default=None, compare=False, repr=False)
    # Every row's 64-bit hash, sorted: rows added and removed between two versions are
    # counted from these, without reading either table. Not part of ``to_json``.
    row_hashes: npt.NDArray[np.uint64] | None = field(default=None, compare=False, repr=False)

    def column(self, name: str) -> ColumnProfile:
        return self.columns[self._positions[name]]

    def has_column(self, name: str) -> bool:
        return name in self._positions

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def sample_values(self, name: str) -> npt.NDArray[np.float64] | None:
        """The sampled non-missing values of a numeric column, as floats."""
        if self.sample is None or name not in self.sample:
            return None
        import numpy as np

        # A null is NaN here: dropped with the NaN, as missing values are.
        values = self.sample.column(name)
        return values[~np.isnan(values)]

    def to_json(self) -> dict[str, Any]:
        columns = [_column_json(column) for column in self.columns]
        return {**self._header(FORMAT), "columns": columns}

    def to_stored(self) -> StoredProfile:
        """The JSON without quantiles; the quantiles as one matrix (a row per column
        that has them, in order; the JSON names each column's row); the order
        statistics as one 2 x N matrix (ranks, values; the JSON names each column's
        slice); every value's count of the categorical columns that keep them."""
        import numpy as np
        import polars as pl

        columns: list[dict[str, Any]] = []
        rows: list[npt.NDArray[np.float64]] = []
        kept: list[OrderStats] = []
        offset = 0
        counted: list[pl.DataFrame] = []
        for column in self.columns:
            data = _column_json(column, quantiles=False)
            if column.quantiles is not None:
                data["quantiles_row"] = len(rows)
                rows.append(np.asarray(column.quantiles))
            if column.order_stats is not None:
                data["order_stats"] = [offset, len(column.order_stats.ranks)]
                offset += len(column.order_stats.ranks)
                kept.append(column.order_stats)
            if column.all_values is not None:
                data["all_values"] = True
                counted.append(
                    column.all_values.select(
                        pl.lit(column.name).alias("column"),
                        pl.col("value").cast(pl.String),
                        pl.col("n").cast(pl.Int64),
                    )
                )
            columns.append(data)
        order_stats = np.zeros((2, offset))
        if kept:
            order_stats[0] = np.concatenate([stats.ranks for stats in kept])
            order_stats[1] = np.concatenate([stats.low for stats in kept])
        return StoredProfile(
            {**self._header(STORED_FORMAT), "columns": columns},
            _stacked(rows),
            order_stats,
            pl.concat(counted) if counted else None,
        )

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {column.name: index for index, column in enumerate(self.columns)}

    def _header(self, fmt: str) -> dict[str, Any]:
        return {
            "format": fmt,
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "label": self.label,
            "quantile_steps": QUANTILE_STEPS,
        }

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        sample: Sample | None = None,
        *,
        quantiles: npt.NDArray[np.float64] | None = None,
        row_hashes: npt.NDArray[np.uint64] | None = None,
        order_stats: npt.NDArray[np.float64] | None = None,
        all_values: pl.DataFrame | None = None,
    ) -> Profile:
        """A profile from ``to_json``'s form, or from ``to_stored``'s with its blobs
        (a /2 one, stored before order statistics were kept, has only the quantiles)."""
        fmt = data.get("format")
        if fmt not in READ_FORMATS or (fmt != FORMAT and quantiles is None):
            raise InvalidInput(
                f"profile format {fmt!r} is not one of {', '.join(READ_FORMATS)}: it was "
                "written by another loopml; upgrade loopml to read it"
            )
        if fmt == STORED_FORMAT and any(
            ("order_stats" in c and order_stats is None)
            or ("all_values" in c and all_values is None)
            for c in data["columns"]
        ):
            raise InvalidInput(
                "the stored profile names order statistics or value counts that were not "
                "given: read it with its profile_order_stats and profile_counts blobs"
            )
        counts = _split_counts(all_values)
        return cls(
            rows=data["rows"],
            duplicate_rows=data["duplicate_rows"],
            label=data.get("label"),
            columns=tuple(
                _column_from_json(column, quantiles, order_stats, counts)
                for column in data["columns"]
            ),
            sample=sample,
            row_hashes=row_hashes,
        )


@dataclass(frozen=True)
class StoredProfile:
    """A profile as its stored blobs: the JSON, the quantile matrix, the order
    statistics (2 x N: ranks, values) and the categorical counts (None without any)."""

    json: dict[str, Any]
    quantiles: npt.NDArray[np.float64]
    order_stats: npt.NDArray[np.float64]
    all_values: pl.DataFrame | None


def _split_counts(table: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """The stored counts table, one (value, n) table per column."""
    if table is None or not table.height:
        return {}
    return {
        str(key[0]): part.drop("column")
        for key, part in table.partition_by("column", as_dict=True, maintain_order=True).items()
    }


def _stacked(rows: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """The rows as one matrix: the matrix they are views of, when they are all of its
    rows in order (as :mod:`loopml.data._numeric` makes them), else a copy."""
    import numpy as np

    if not rows:
        return np.zeros((0, QUANTILE_STEPS + 1))
    base = rows[0].base
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 2
        and base.shape == (len(rows), len(rows[0]))
        and base.flags.c_contiguous
        and base.dtype == np.float64
        and all(
            row.base is base and row.__array_interface__["data"][0] == start
            for row, start in zip(
                rows,
                range(base.ctypes.data, base.ctypes.data + base.nbytes, base.strides[0]),
                strict=False,
            )
        )
    ):
        return base
    return np.stack(rows)


def profile(table: pl.DataFrame, *, label: str | None = None, points: int | None = None) -> Profile:
    """Compute the profile of a Polars DataFrame (see :func:`loopml.data.as_polars`).

    ``points`` is how many order statistics a numeric column of a table larger than
    the sample keeps (8,192 by default, fewer for very wide tables; at least 1,024):
    fewer make comparisons faster and their distances' bounds wider (see
    :mod:`loopml.data._orderstats`)."""
    import numpy as np
    import polars as pl

    if label is not None and label not in table.columns:
        raise InvalidInput(
            f"label column {label!r} is not in the table; its columns are "
            f"{', '.join(table.columns)}",
            field="label",
        )
    from loopml.data._numeric import numeric_profiles

    rows = table.height
    kinds = {name: logical_type(dtype) for name, dtype in table.schema.items()}
    numbers = [name for name, kind in kinds.items() if kind in ("integer", "float")]
    if points is not None and (
        isinstance(points, bool) or not isinstance(points, int) or points < POINTS_MIN
    ):
        raise InvalidInput(
            f"points {points!r} must be a whole number of at least {POINTS_MIN}", field="points"
        )
    found = numeric_profiles(table, numbers, rows, points)
    columns = tuple(
        _with_order(found[name], table.get_column(name))
        if name in found
        else _profile_column(table.get_column(name), rows)
        for name in table.columns
    )
    sample = table if rows <= SAMPLE_ROWS else table.sample(n=SAMPLE_ROWS, seed=0)
    others = [c.name for c in columns if not c.numeric]
    hashes = row_hashes(table)
    return Profile(
        rows=rows,
        duplicate_rows=int(np.count_nonzero(hashes[1:] == hashes[:-1])),
        columns=columns,
        label=label,
        # dropping the few others: selecting 20,000 columns by name takes a second
        sample=Sample.of(sample.drop(others) if len(others) < len(columns) else pl.DataFrame()),
        row_hashes=hashes,
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


def _profile_column(series: pl.Series, rows: int) -> ColumnProfile:
    kind = logical_type(series.dtype)
    base: dict[str, Any] = {
        "name": series.name,
        "dtype": str(series.dtype),
        "type": kind,
        "rows": rows,
    }
    if kind in ("date", "datetime", "duration"):
        return _temporal(series, base)
    if kind in ("string", "boolean"):
        return _categorical(series, base)
    return ColumnProfile(**base, missing=series.null_count(), distinct=series.n_unique())


def _with_order(column: ColumnProfile, series: pl.Series) -> ColumnProfile:
    """Whole numbers all distinct (a row id, perhaps): note whether they increase."""
    if column.type != "integer" or not column.count or column.distinct != column.count:
        return column
    from dataclasses import replace

    return replace(column, ascending=bool(series.drop_nulls().is_sorted()))


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
        quantiles=Floats(sorted_quantiles(ordered)),
        histogram=histogram(ordered),
        span=None if base["type"] == "duration" else time_span(present),
    )


def time_span(present: pl.Series) -> TimeSpan:
    """The :class:`TimeSpan` of non-missing dates or datetimes."""
    import numpy as np
    import polars as pl

    micros = present.cast(pl.Datetime("us")).dt.epoch("us").to_numpy()
    seconds = micros.astype(np.float64) / 1e6
    distinct = np.unique(seconds)
    gaps = np.diff(distinct)
    return TimeSpan(
        first=float(distinct[0]),
        last=float(distinct[-1]),
        step=float(np.median(gaps)) if len(gaps) else 0.0,
        largest_gap=float(gaps.max()) if len(gaps) else 0.0,
        ascending=bool(np.all(np.diff(seconds) >= 0)),
    )


DATE_LIKE = r"^\s*(\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})"


def _parsed_dates(present: pl.Series) -> tuple[str, TimeSpan] | None:
    """("date" or "datetime", span) when every value of a text column parses as one."""
    import polars as pl

    if not len(present) or not present.str.contains(DATE_LIKE).all():
        return None
    for kind, parse in (("date", present.str.to_date), ("datetime", present.str.to_datetime)):
        try:
            parsed = parse(strict=False)
        except pl.exceptions.PolarsError:
            continue
        if not parsed.null_count():
            return kind, time_span(parsed)
    return None


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
    dates = _parsed_dates(present) if series.dtype == pl.String else None
    return ColumnProfile(
        **base,
        missing=base["rows"] - len(present),
        distinct=counted.height,
        values=tuple(zip(values[:TOP_VALUES], numbers[:TOP_VALUES], strict=True)),
        other=int(sum(numbers[TOP_VALUES:])),
        parsed=dates[0] if dates else None,
        span=dates[1] if dates else None,
        # every value's count, for exact distances: only when the top ones are not all
        all_values=counted.with_columns(keys.alias("value"))
        if counted.height > TOP_VALUES
        else None,
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


def histogram(ordered: npt.NDArray[np.float64]) -> Histogram:
    """Counts in equal-width bins between the extremes of sorted values."""
    import numpy as np

    low, high = float(ordered[0]), float(ordered[-1])
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return Histogram(edges=(low, high), counts=(len(ordered),))
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    cuts = np.searchsorted(ordered, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], cuts, [len(ordered)])))
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


def row_hashes(table: pl.DataFrame) -> npt.NDArray[np.uint64]:
    """Every row's 64-bit hash (Polars' ``hash_rows``, seed 0), sorted."""
    import numpy as np

    if not table.width:
        return np.zeros(0, dtype=np.uint64)
    hashes: npt.NDArray[np.uint64] = np.sort(table.hash_rows(seed=0).to_numpy())
    return hashes


def row_hash_method() -> dict[str, Any]:
    """What made the row hashes: Polars' hash is stable within one Polars version on one
    kind of machine only, so hashes are compared only when this is equal for both."""
    import polars as pl

    return {
        "function": "polars.DataFrame.hash_rows",
        "seed": 0,
        "polars": pl.__version__,
        "probe": _probe_hash(),
    }


def multiset_difference(
    old: npt.NDArray[np.uint64], new: npt.NDArray[np.uint64]
) -> tuple[int, int]:
    """(rows of ``new`` not in ``old``, rows of ``old`` not in ``new``), counting
    repeated rows as often as they repeat; both arrays are sorted row hashes.

    >>> import numpy as np
    >>> multiset_difference(np.array([1, 1, 2, 3], "u8"), np.array([1, 2, 2, 2, 3], "u8"))
    (2, 1)
    """
    import numpy as np

    old_keys, old_counts = np.unique(old, return_counts=True)
    new_keys, new_counts = np.unique(new, return_counts=True)
    at = np.minimum(np.searchsorted(old_keys, new_keys), max(len(old_keys) - 1, 0))
    found = old_keys[at] == new_keys if len(old_keys) else np.zeros(len(new_keys), dtype=bool)
    common = int(np.minimum(new_counts[found], old_counts[at[found]]).sum())
    return len(new) - common, len(old) - common


def _probe_hash() -> str:
    """The row hashes of a fixed table of every common type: differs when the hash does."""
    import datetime as dt

    import polars as pl

    probe = pl.DataFrame(
        {
            "i": [1, None, -(2**40)],
            "f": [0.5, None, float("inf")],
            "s": ["a", None, "\u00fc"],
            "b": [True, None, False],
            "d": [dt.date(2024, 1, 31), None, dt.date(1970, 1, 1)],
            "t": [dt.datetime(2024, 1, 31, 12), None, dt.datetime(1970, 1, 1)],
        }
    )
    return "-".join(f"{h:016x}" for h in probe.hash_rows(seed=0).to_list())


def _column_json(column: ColumnProfile, *, quantiles: bool = True) -> dict[str, Any]:
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
    if column.quantiles is not None and quantiles:
        data["quantiles"] = column.quantiles.to_list()
    if column.histogram is not None:
        data["histogram"] = {
            "edges": [_finite(e) for e in column.histogram.edges],
            "counts": list(column.histogram.counts),
        }
    if column.values is not None:
        data["values"] = [[value, n] for value, n in column.values]
        data["other"] = column.other
    if column.span is not None:
        data["span"] = vars(column.span)
    if column.parsed is not None:
        data["parsed"] = column.parsed
    if column.ascending is not None:
        data["ascending"] = column.ascending
    return data


def _finite(value: float) -> float | str:
    """JSON has no inf or NaN: write them as strings."""
    return value if math.isfinite(value) else str(value)


def _number(value: float | str) -> float:
    return float(value)


def _column_from_json(
    data: dict[str, Any],
    matrix: npt.NDArray[np.float64] | None = None,
    order_stats: npt.NDArray[np.float64] | None = None,
    counts: dict[str, pl.DataFrame] | None = None,
) -> ColumnProfile:
    import numpy as np

    histogram = data.get("histogram")
    values = data.get("values")
    quantiles = None
    if "quantiles" in data:
        quantiles = Floats([_number(q) for q in data["quantiles"]])
    elif "quantiles_row" in data and matrix is not None:
        quantiles = Floats(matrix[int(data["quantiles_row"])])
    kept = None
    if "order_stats" in data and order_stats is not None:
        start, length = (int(n) for n in data["order_stats"])
        ranks, at = order_stats[:, start : start + length]
        kept = OrderStats(data["rows"] - data["missing"], ranks.astype(np.int64), at)
    all_values = None
    if data.get("all_values") and counts is not None:
        all_values = counts.get(data["name"])
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
        quantiles=quantiles,
        histogram=Histogram(
            edges=tuple(_number(e) for e in histogram["edges"]), counts=tuple(histogram["counts"])
        )
        if histogram
        else None,
        values=tuple((value, n) for value, n in values) if values is not None else None,
        other=data.get("other", 0),
        span=TimeSpan(**data["span"]) if "span" in data else None,
        parsed=data.get("parsed"),
        ascending=data.get("ascending"),
        order_stats=kept,
        all_values=all_values,
    )
