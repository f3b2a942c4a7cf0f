"""Order statistics of a numeric column, and drift distances from them with an error bound.

Why this, and not quantiles: a distance read off 1,001 quantiles gives the extreme
value a weight of 1/2,000 whatever the row count, so one changed row in 200,000 looks
like drift and a heavy tail is overstated many times. What a profile keeps instead:

- **A table of at most** ``SAMPLE_ROWS`` **(5,000) rows**: its stored sample *is* the
  table, so distances are computed from every value, exactly as SciPy computes them
  (:func:`exact_distances`); nothing more is stored.
- **A larger table**: per numeric column, the values at a set of ranks (0-based, in
  sorted order), :class:`OrderStats`, made by :func:`sketch` from the sorted column:
  every value when the column has at most ``points`` of them; else the ``points // 8``
  smallest and largest values exactly (the tails, where one extreme row moves the
  Wasserstein distance), an even grid of ranks in between (every rank gap at most
  ``2.7 n / points``, which bounds the KS error), and as many ranks again placed
  where the values spread (density proportional to the square root of the quantile
  function's slope, which minimizes the Wasserstein bound below for a given budget).

Between two kept ranks ``r < s`` every value lies in ``[x_r, x_s]``, so each side's
quantile function (and CDF) is known to lie between two step functions. The distances
are computed between those brackets (:func:`wasserstein_bounds`, :func:`ks_bounds`):
the exact distance lies in ``[low, high]``. What is reported is the middle, with the
bound ``(high - low) / 2``: the true distance is never farther from it than that.
The bound is proven (it needs no assumption on the data) and does not grow with the
row count: the Wasserstein bound is at most the sum, over the kept rank gaps, of the
gap's share of the rows times its spread of values, and the tails, where heavy-tailed
spreads are, are exact. A profile stored before order statistics were kept has only
its quantiles: they bracket the order statistics too (:meth:`OrderStats.from_quantiles`),
so its distances also come with an honest, much wider bound.

>>> import numpy as np
>>> a = OrderStats.exact(np.array([0.0, 1.0, 2.0, 3.0]))
>>> b = OrderStats.exact(np.array([0.0, 1.0, 2.0, 30.0]))
>>> wasserstein_bounds(a, b), ks_bounds(a, b)
((6.75, 6.75), (0.25, 0.25))
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Ints = npt.NDArray[np.int64]

POINTS = 8192  # values kept per column of a table larger than the sample
POINTS_MIN = 1024  # ... at the least, however many columns
TABLE_POINTS = 1 << 24  # values kept per table at most (16 bytes each: value and rank)
GRID_PER_POINT = 16  # cells of the rank grid that places the spread-driven ranks


class OrderStats:
    """The values of a sorted column of ``count`` values at ``ranks`` (0-based,
    increasing, always with the first and the last), or, from old quantiles, at each
    kept rank a bracket ``[low, high]`` for the values from that rank to the next."""

    __slots__ = ("_segments", "count", "high", "low", "ranks")

    def __init__(self, count: int, ranks: Any, low: Any, high: Any | None = None) -> None:
        import numpy as np

        self.count = int(count)
        self.ranks: Ints = np.asarray(ranks, dtype=np.int64)
        self.low: Floats = np.asarray(low, dtype=np.float64)
        self.high: Floats = self.low if high is None else np.asarray(high, dtype=np.float64)
        self._segments: tuple[Ints, Floats, Floats] | None = None

    @classmethod
    def exact(cls, ordered: Floats) -> OrderStats:
        """Every value of a sorted column."""
        import numpy as np

        return cls(len(ordered), np.arange(len(ordered)), ordered)

    @classmethod
    def from_quantiles(cls, quantiles: Any, count: int) -> OrderStats:
        """Brackets of the order statistics from quantiles at equal steps, computed by
        linear interpolation at position ``i * (count - 1) / steps`` (as profiles are):
        a quantile is at least the value at the floor of its position and at most the
        one at the ceiling. Positions are widened by one rank for rounding."""
        import numpy as np

        q = np.asarray(quantiles, dtype=np.float64)
        steps = len(q) - 1
        position = np.arange(steps + 1) * ((count - 1) / steps)
        at_least = np.ceil(position).astype(np.int64) + 1  # ranks from here on: >= q[i]
        at_most = np.floor(position).astype(np.int64) - 1  # ranks up to here: <= q[i]
        at_least[0], at_most[0] = 0, 0  # q[0] is the least value, q[-1] the greatest
        at_least[-1], at_most[-1] = count - 1, count - 1
        starts = np.unique(np.concatenate(([0, 1, count - 1], at_least, at_most + 1)))
        starts = starts[(starts >= 0) & (starts < count)]
        ends = np.append(starts[1:], count) - 1
        low = q[np.searchsorted(at_least, starts, side="right") - 1]  # the last q[i] below
        high = q[np.searchsorted(at_most, ends, side="left")]  # the first q[i] above
        return cls(count, starts, low, high)

    @property
    def complete(self) -> bool:
        """Whether every value is known (the distances are exact)."""
        import numpy as np

        return len(self.ranks) == self.count and bool(np.array_equal(self.low, self.high))

    def segments(self) -> tuple[Ints, Floats, Floats]:
        """Rank segments ``[start, next start)`` and, for each, bounds on its values
        (made once: every distance to another column reads them)."""
        if self._segments is None:
            self._segments = self._made_segments()
        return self._segments

    def _made_segments(self) -> tuple[Ints, Floats, Floats]:
        import numpy as np

        if self.high is not self.low:
            return self.ranks, self.low, self.high
        ranks, values = self.ranks, self.low
        after = np.append(ranks[1:], self.count)
        gap = after > ranks + 1
        starts = np.empty(2 * len(ranks), dtype=np.int64)
        starts[0::2], starts[1::2] = ranks, ranks + 1
        low = np.repeat(values, 2)
        high = low.copy()
        high[1::2] = np.append(values[1:], values[-1])
        keep = np.ones(2 * len(ranks), dtype=bool)
        keep[1::2] = gap
        return starts[keep], low[keep], high[keep]

    def __eq__(self, other: object) -> bool:
        import numpy as np

        if not isinstance(other, OrderStats):
            return NotImplemented
        return (
            self.count == other.count
            and np.array_equal(self.ranks, other.ranks)
            and np.array_equal(self.low, other.low, equal_nan=True)
            and np.array_equal(self.high, other.high, equal_nan=True)
        )

    def __hash__(self) -> int:
        return hash((self.count, self.ranks.tobytes(), self.low.tobytes()))

    def __repr__(self) -> str:
        return f"OrderStats(count={self.count}, kept={len(self.ranks)})"


def points_per_column(columns: int) -> int:
    """Values kept per column of a table with ``columns`` numeric columns."""
    return max(POINTS_MIN, min(POINTS, TABLE_POINTS // max(columns, 1)))


def sketch(ordered: Floats, points: int = POINTS) -> tuple[Ints, Floats]:
    """The ranks to keep of a sorted column without missing values, and its values there."""
    return sketches(ordered[None, :], points)[0]


def sketches(rows: Floats, points: int = POINTS) -> list[tuple[Ints, Floats]]:
    """:func:`sketch` of each row of ``rows`` (sorted columns of one length, without
    missing values, one a row): the grid they share made once, the weights of every
    row in one array operation."""
    import numpy as np

    n = rows.shape[1]
    if n <= points:
        ranks = np.arange(n, dtype=np.int64)
        return [(ranks.copy(), row.copy()) for row in rows]
    tail = points // 8
    inner = points - 2 * tail
    even, grid = _sketch_grid(n, points)
    with np.errstate(invalid="ignore", over="ignore"):
        weights = np.sqrt(np.diff(grid) / n * np.diff(rows[:, grid], axis=1))
    weights = np.nan_to_num(weights, nan=0.0, posinf=0.0)  # an infinite value: placed evenly
    totals = np.concatenate((np.zeros((len(rows), 1)), np.cumsum(weights, axis=1)), axis=1)
    least, most = np.arange(tail), np.arange(n - tail, n)  # the tails, kept whole
    found = []
    for row, total in zip(rows, totals, strict=True):
        spread = np.zeros(0, dtype=np.int64)
        if total[-1] > 0:
            targets = np.linspace(0.0, total[-1], inner - inner // 2 + 2)[1:-1]
            spread = np.rint(np.interp(targets, total, grid)).astype(np.int64)
        ranks = _distinct(np.sort(np.concatenate((least, even, spread, most))))
        found.append((ranks, row[ranks]))
    return found


@functools.lru_cache(maxsize=256)
def _sketch_grid(n: int, points: int) -> tuple[Ints, Ints]:
    """The even ranks a sketch of ``n`` values keeps, and the grid of ranks its
    spread-driven ranks are placed on (read only: shared by every sketch of ``n``)."""
    import numpy as np

    tail = points // 8
    inner = points - 2 * tail
    even = np.rint(np.linspace(tail, n - tail - 1, inner // 2)).astype(np.int64)
    grid = _distinct(
        np.rint(np.linspace(tail - 1, n - tail, min(n, GRID_PER_POINT * inner))).astype(np.int64)
    )
    even.flags.writeable = grid.flags.writeable = False
    return even, grid


def merge(parts: Sequence[OrderStats], points: int = POINTS) -> OrderStats:
    """The order statistics of the union of columns with these ``parts``: a sketch of
    every value (as :func:`sketch` keeps it) when every part is complete, else at most
    ``points`` ranks, each with a bracket that holds, whatever the parts' unkept values
    are, every value of the union from that rank to the next.

    Why a bracket holds: a value ``x`` has at most as many values at or below it as the
    parts' rank segments whose lower bound is at most ``x``, and at least as many as
    those whose upper bound is; so the union's ``r``-th value is at least the lower
    bound where the first count reaches ``r + 1``, and at most the upper bound where
    the second one does. The least and greatest values are exact (each part keeps
    its own). Distances between merged columns carry these brackets into their
    bounds, as they carry a sketch's (:func:`wasserstein_bounds`, :func:`ks_bounds`).

    >>> import numpy as np
    >>> a, b = np.arange(0.0, 100.0, 2.0), np.arange(1.0, 100.0, 2.0)
    >>> union = merge([OrderStats(50, *sketch(a, 16)), OrderStats(50, *sketch(b, 16))], 20)
    >>> union.count, float(union.low[0]), float(union.high[-1]), union.complete
    (100, 0.0, 99.0, False)
    >>> every = np.arange(100.0)
    >>> at = np.searchsorted(union.ranks, np.arange(100), side="right") - 1
    >>> bool(((union.low[at] <= every) & (every <= union.high[at])).all())
    True
    """
    import numpy as np

    kept = [part for part in parts if part.count]
    count = sum(part.count for part in kept)
    if not kept:
        return OrderStats(0, np.zeros(0, dtype=np.int64), np.zeros(0))
    if all(part.complete for part in kept):
        ordered = np.sort(np.concatenate([part.low for part in kept]))
        return OrderStats(count, *sketch(ordered, points))
    if all(part.high is part.low for part in kept):
        values, more, closed = _events_of_kept(kept)
        order = np.argsort(values, kind="stable")  # sorted runs, one a part: a merge
        low = high = values[order]
        at_most, at_least = np.cumsum(more[order]), np.cumsum(closed[order])
    else:
        low_values, size, high_values = _events_of_segments(kept)
        by_low = np.argsort(low_values, kind="stable")
        by_high = np.argsort(high_values, kind="stable")
        low, high = low_values[by_low], high_values[by_high]
        at_most, at_least = np.cumsum(size[by_low]), np.cumsum(size[by_high])
    # at_most: how many values can be at or below each lower bound; at_least: how
    # many surely are at or below each upper bound
    ranks = _merged_ranks(count, points)
    ends = np.append(ranks[1:], count)  # one past each segment's last rank
    low_of = low[np.searchsorted(at_most, ranks + 1, side="left")]
    high_of = high[np.searchsorted(at_least, ends, side="left")]
    return OrderStats(count, ranks, low_of, high_of)


def _events_of_kept(parts: list[OrderStats]) -> tuple[Floats, Ints, Ints]:
    """For parts whose kept values are exact: each kept value, how many of its part's
    values can be at or below it beyond those counted at the kept values before (its
    rank and the unkept ones after it), and how many surely are (the unkept ones
    before it, and itself)."""
    import numpy as np

    values = np.concatenate([part.low for part in parts])
    ranks = np.concatenate([part.ranks for part in parts])
    ends = np.cumsum([len(part.ranks) for part in parts])  # one past each part's last
    steps = np.diff(ranks, append=0)
    more, closed = steps.copy(), np.concatenate(([0], steps[:-1]))
    more[ends - 1] = np.array([part.count for part in parts]) - ranks[ends - 1]
    firsts = np.concatenate(([0], ends[:-1]))
    closed[firsts] = ranks[firsts] + 1
    return values, more, closed


def _events_of_segments(parts: list[OrderStats]) -> tuple[Floats, Ints, Floats]:
    """For parts with brackets: each rank segment's lower bound, size and upper bound."""
    import numpy as np

    lows, highs, sizes = [], [], []
    for part in parts:
        starts, low, high = part.segments()
        lows.append(low)
        highs.append(high)
        sizes.append(np.diff(np.append(starts, part.count)))
    return np.concatenate(lows), np.concatenate(sizes), np.concatenate(highs)


def _merged_ranks(count: int, points: int) -> Ints:
    """The ranks a merged column keeps: every one of a small column; else the
    ``points // 8`` least and greatest, and an even grid in between."""
    import numpy as np

    if count <= points:
        return np.arange(count, dtype=np.int64)
    tail = points // 8
    inner = np.rint(np.linspace(tail, count - tail - 1, points - 2 * tail)).astype(np.int64)
    edges = (np.arange(tail), inner, np.arange(count - tail, count))
    result: Ints = _distinct(np.sort(np.concatenate(edges)))
    return result


def _distinct(ordered: Any) -> Any:
    """The distinct values of a sorted array (``np.unique`` hashes, which is slower)."""
    import numpy as np

    if not len(ordered):
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def wasserstein_bounds(first: OrderStats, second: OrderStats) -> tuple[float, float]:
    """The least and greatest W1 distance (integral over u of |Q1(u) - Q2(u)|) that two
    columns with these order statistics can have; equal for complete ones."""
    import numpy as np

    starts_a, low_a, high_a = first.segments()
    starts_b, low_b, high_b = second.segments()
    u_a, u_b = starts_a / first.count, starts_b / second.count
    cuts = np.append(_distinct(np.sort(np.concatenate((u_a, u_b)))), 1.0)
    widths = np.diff(cuts)
    in_a = np.searchsorted(u_a, cuts[:-1], side="right") - 1
    in_b = np.searchsorted(u_b, cuts[:-1], side="right") - 1
    la, ha, lb, hb = low_a[in_a], high_a[in_a], low_b[in_b], high_b[in_b]
    with np.errstate(invalid="ignore", over="ignore"):
        least = np.maximum(np.maximum(la - hb, lb - ha), 0.0)
        most = np.maximum(ha - lb, hb - la)
        # sums of products, not ``@``: BLAS threads cost more than they save here
        return float((widths * least).sum()), float((widths * most).sum())


def ks_bounds(first: OrderStats, second: OrderStats) -> tuple[float, float]:
    """The least and greatest KS statistic (sup over x of |F1(x) - F2(x)|) that two
    columns with these order statistics can have; equal for complete ones."""
    import numpy as np

    starts_a, low_a, high_a = first.segments()
    starts_b, low_b, high_b = second.segments()
    # values <= x: at least the ranks of the segments whose high <= x, at most those
    # whose low <= x; right-continuous steps at those values, so they are the points.
    # Each of the four arrays is sorted: one stable merge of them, and counts running
    # along it, give every point's four counts (a binary search per point costs twice
    # as much). At a run of equal values, the counts after its last.
    done_a = np.concatenate(([0], starts_a[1:], [first.count])) / first.count
    done_b = np.concatenate(([0], starts_b[1:], [second.count])) / second.count
    arrays = (low_a, high_a, low_b, high_b)
    points = np.concatenate(arrays)
    source = np.repeat(np.arange(4, dtype=np.int8), [len(a) for a in arrays])
    order = np.argsort(points, kind="stable")
    ordered, which = points[order], source[order]
    last = np.append(ordered[1:] != ordered[:-1], True)
    most_a, least_a, most_b, least_b = (
        done[np.cumsum(which == k)[last]] for k, done in enumerate((done_a, done_a, done_b, done_b))
    )
    most = max(float((most_a - least_b).max()), float((most_b - least_a).max()))
    least = max(0.0, float((least_a - most_b).max()), float((least_b - most_a).max()))
    return least, most


def exact_distances(first: Floats, second: Floats) -> tuple[float, float, float]:
    """(Wasserstein distance, KS statistic, signed-gap KS statistic as SciPy's test
    computes it) of two sorted columns, each value known: the arithmetic of
    ``scipy.stats.wasserstein_distance`` and of ``ks_2samp``, with one merge."""
    import numpy as np

    both = np.sort(np.concatenate((first, second)))
    cdf_a = np.searchsorted(first, both, side="right") / len(first)
    cdf_b = np.searchsorted(second, both, side="right") / len(second)
    gaps = cdf_a - cdf_b
    with np.errstate(invalid="ignore"):
        distance = float((np.abs(gaps[:-1]) * np.diff(both)).sum()) if len(both) > 1 else 0.0
    below = float(np.clip(-gaps[np.argmin(gaps)], 0, 1))
    above = float(gaps[np.argmax(gaps)])
    return distance, float(np.abs(gaps).max()), below if below > above else above


def middle(bounds: tuple[float, float]) -> tuple[float, float]:
    """(the value, its bound): the middle of ``[low, high]`` and half its width."""
    low, high = bounds
    return (low + high) / 2, (high - low) / 2
