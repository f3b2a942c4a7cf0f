"""Profiles of numeric columns, many columns at a time.

A table's numeric columns are cast to float64 (a null becomes NaN, missing as NaN is)
and profiled in blocks of columns, each block at most :data:`BLOCK_VALUES` values: one
sort per block (NaN sorts last), and quantiles, extremes, distinct counts, histograms,
means and deviations computed for the whole block at once; small blocks, so that the
temporaries of a wide table stay a few MB. A 20,000-column table costs a few block sorts instead of
20,000 rounds of small NumPy calls; a tall table is a block per column or a few, as
before. Every number equals what a column on its own would give: the same sorted
values, the same quantile arithmetic, and means and deviations summed per column in
the column's own order. A table larger than the profile's sample also keeps each
column's order statistics (:func:`loopml.data._orderstats.sketch`), read off the same
sorted values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.data._orderstats import OrderStats, points_per_column, sketch
from loopml.data._profile import (
    DISCRETE_MAX,
    HISTOGRAM_BINS,
    QUANTILE_STEPS,
    SAMPLE_ROWS,
    ColumnProfile,
    Floats,
    Histogram,
    histogram,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

BLOCK_VALUES = 1024 * 1024  # 8 MB of float64 per block, and per quantile array of one


def numeric_profiles(
    table: pl.DataFrame, names: list[str], rows: int, points: int | None = None
) -> dict[str, ColumnProfile]:
    """The profiles of the numeric columns ``names`` of ``table``. Their quantiles are
    the rows of one matrix, in the order of ``names``: stored as they are. ``points``
    is the order statistics kept per column (:func:`points_per_column` when None)."""
    import numpy as np

    per_block = max(1, min(BLOCK_VALUES // max(rows, 1), BLOCK_VALUES // (QUANTILE_STEPS + 1)))
    schema = table.schema  # built anew on each access: once here
    quantiles = np.empty((len(names), QUANTILE_STEPS + 1), dtype=np.float64)
    found: dict[str, ColumnProfile] = {}
    # A table within the sample is kept whole by it: no order statistics needed.
    if rows <= SAMPLE_ROWS:
        points = 0
    elif points is None:
        points = points_per_column(len(names))
    for start in range(0, len(names), per_block):
        chunk = names[start : start + per_block]
        dtypes = {name: schema[name] for name in chunk}
        block_quantiles = quantiles[start : start + len(chunk)]
        found.update(_block(table, chunk, dtypes, rows, block_quantiles, points))
    return found


def _block(
    table: pl.DataFrame,
    names: list[str],
    dtypes: dict[str, pl.DataType],
    rows: int,
    quantiles: npt.NDArray[np.float64],
    points: int = 0,
) -> dict[str, ColumnProfile]:
    """The profiles of a block of columns; their quantiles written into ``quantiles``
    (a row per column); with ``points``, order statistics of at most that many values."""
    import numpy as np
    import polars as pl

    block = np.empty((rows, len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        block[:, j] = table.get_column(name).cast(pl.Float64).to_numpy()
    valid = ~np.isnan(block)
    counts = valid.sum(axis=0)
    ordered = np.sort(block, axis=0)  # each column sorted, its NaN (missing) last
    last = np.maximum(counts - 1, 0)
    changes = np.diff(ordered, axis=0) != 0
    within = np.arange(max(rows - 1, 0))[:, None] < last[None, :]
    distinct = (changes & within).sum(axis=0) + 1
    _quantiles(ordered, last, counts, quantiles)
    histograms = _histograms(ordered, counts, _edges(ordered, last))
    means, stds = _moments(block, valid, counts, rows)
    found = {}
    for j, name in enumerate(names):
        dtype = dtypes[name]
        base: dict[str, Any] = {
            "name": name,
            "dtype": str(dtype),
            "type": "integer" if dtype.is_integer() else "float",
            "rows": rows,
        }
        n = int(counts[j])
        if not n:
            found[name] = ColumnProfile(**base, missing=rows, distinct=0)
            continue
        column = ordered[:n, j]
        found[name] = ColumnProfile(
            **base,
            missing=rows - n,
            distinct=int(distinct[j]),
            min=float(column[0]),
            max=float(column[-1]),
            mean=means[j],
            std=stds[j],
            quantiles=Floats(quantiles[j]),
            histogram=histograms[j],
            values=_counts(column, dtype) if distinct[j] <= DISCRETE_MAX else None,
            order_stats=OrderStats(n, *sketch(column, points)) if points else None,
        )
    return found


def _moments(
    block: npt.NDArray[np.float64], valid: Any, counts: Any, rows: int
) -> tuple[list[float], list[float]]:
    """Each column's mean and sample standard deviation over its present values, as
    ``values.mean()`` and ``values.std(ddof=1)`` give them for the column alone: a
    column without missing values is reduced along its own (contiguous) axis, which
    sums in the same order; one with missing values is reduced on its own."""
    import numpy as np

    full = counts == rows
    means = np.full(block.shape[1], np.nan)
    stds = np.zeros(block.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):  # values past 1e154: see below
        if rows and full.any():
            whole = block if full.all() else np.asfortranarray(block[:, full])
            means[full] = whole.mean(axis=0)
            if rows > 1:
                stds[full] = whole.std(axis=0, ddof=1)
        for j in np.flatnonzero(~full & (counts > 0)):
            values = block[valid[:, j], j]  # unsorted, as the column holds them
            means[j] = values.mean()
            stds[j] = values.std(ddof=1) if len(values) > 1 else 0.0
    # Finite values whose sum or squares pass the largest float (1e200 squared) are
    # taken again divided by their largest magnitude: a finite mean and deviation,
    # not an infinite one that would make every distance in deviations zero.
    overflowed = ~(np.isfinite(means) & np.isfinite(stds)) & (counts > 0)
    for j in np.flatnonzero(overflowed):
        values = block[valid[:, j], j]
        if not np.isfinite(values).all():
            continue  # an infinite value: its moments are not numbers
        scale = float(np.abs(values).max())
        means[j] = scale * (values / scale).mean()
        stds[j] = scale * (values / scale).std(ddof=1) if len(values) > 1 else 0.0
    return means.tolist(), stds.tolist()


def _quantiles(
    ordered: npt.NDArray[np.float64],
    last: npt.NDArray[Any],
    counts: npt.NDArray[Any],
    out: npt.NDArray[np.float64],
) -> None:
    """Quantiles at i/QUANTILE_STEPS of each sorted column into the rows of ``out``, as
    ``sorted_quantiles`` computes them for one (linear interpolation, the same
    arithmetic). Columns with as many values share their positions: one gather of
    whole rows of the block for all of them."""
    import numpy as np

    steps = np.arange(QUANTILE_STEPS + 1, dtype=np.float64)
    by_column = ordered.T  # a row per column, contiguous: gathers stay within a column
    for end in np.unique(last[counts > 0]):
        columns = np.flatnonzero((last == end) & (counts > 0))
        position = steps * (end / QUANTILE_STEPS)  # np.linspace(0, end, ...)
        position[-1] = end
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, end)
        fraction = (position - low)[None, :]
        every = len(columns) == len(by_column)
        chosen = by_column if every else by_column[columns]
        below = np.take(chosen, low, axis=1)
        result = out if every else np.empty_like(below)
        # below + fraction * (above - below), in place: the same operations on each value.
        np.take(chosen, high, axis=1, out=result)
        with np.errstate(invalid="ignore"):  # between two infinities: NaN, as for one column
            result -= below
            result *= fraction
            result += below
        if not every:
            out[columns] = result


def _edges(ordered: npt.NDArray[np.float64], last: npt.NDArray[Any]) -> Any:
    """Each column's histogram edges, as ``np.linspace(min, max, HISTOGRAM_BINS + 1)``
    gives them (the same arithmetic)."""
    import numpy as np

    low = ordered[0, :]
    high = np.take_along_axis(ordered, last[None, :], axis=0)[0]
    steps = np.arange(HISTOGRAM_BINS + 1, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        edges = steps * ((high - low) / HISTOGRAM_BINS)[None, :] + low[None, :]
    edges[-1, :] = high
    return edges


def _cuts(
    ordered: npt.NDArray[np.float64], counts: npt.NDArray[Any], edges: npt.NDArray[np.float64]
) -> Any:
    """For each sorted column, how many of its values lie below each inner edge:
    ``np.searchsorted(column, edges[1:-1], side="left")`` for every column at once, a
    binary search over the present values of all columns in step."""
    import numpy as np

    by_column = ordered.T
    targets = edges[1:-1].T  # (columns, inner edges)
    which = np.arange(len(by_column))[:, None]
    low = np.zeros(targets.shape, dtype=np.int64)
    high = np.repeat(counts.astype(np.int64)[:, None], targets.shape[1], axis=1)
    while True:
        open_ = low < high
        if not open_.any():
            return low
        middle = (low + high) // 2
        with np.errstate(invalid="ignore"):
            right = by_column[which, np.minimum(middle, len(ordered) - 1)] < targets
        low = np.where(open_ & right, middle + 1, low)
        high = np.where(open_ & ~right, middle, high)


def _histograms(
    ordered: npt.NDArray[np.float64], counts: npt.NDArray[Any], edges: npt.NDArray[np.float64]
) -> list[Histogram | None]:
    """Each column's histogram (None for one without values), as ``histogram`` gives
    it for the column alone."""
    import numpy as np

    cuts = _cuts(ordered, counts, edges)
    bins = np.diff(np.concatenate((np.zeros_like(cuts[:, :1]), cuts, counts[:, None]), axis=1))
    low = ordered[0, :]
    high = np.take_along_axis(ordered, np.maximum(counts - 1, 0)[None, :], axis=0)[0]
    plain = np.isfinite(low) & np.isfinite(high) & (low != high)
    all_edges, all_bins = edges.T.tolist(), bins.tolist()
    found: list[Histogram | None] = []
    for j, n in enumerate(counts.tolist()):
        if not n:
            found.append(None)
        elif plain[j]:
            found.append(Histogram(edges=tuple(all_edges[j]), counts=tuple(all_bins[j])))
        else:
            found.append(histogram(ordered[:n, j]))
    return found


def _counts(column: npt.NDArray[np.float64], dtype: pl.DataType) -> tuple[tuple[Any, int], ...]:
    """Exact value counts of a sorted column with few distinct values, most common first."""
    import numpy as np

    steps = np.diff(column) != 0
    starts = np.concatenate(([0], np.flatnonzero(steps) + 1))
    sizes = np.diff(np.concatenate((starts, [len(column)])))
    cast = int if dtype.is_integer() else float
    pairs = ((cast(column[s]), int(n)) for s, n in zip(starts, sizes, strict=True))
    return tuple(sorted(pairs, key=lambda pair: -pair[1]))
