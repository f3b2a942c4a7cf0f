"""Drift distances between two stored column profiles, each with the bound of its error.

Every distance comes with ``<name>_bound``: the exact distance (the one SciPy computes
on the two full columns) is never farther than that from the reported one. It is 0
when the distance is exact.

- **Numeric** (``wasserstein`` normalized by the reference's standard deviation,
  ``wasserstein_raw``, ``ks``): exact when both tables are within the profile's sample
  (at most 5,000 rows: the sample is the table) or a column has no more values than
  its kept order statistics; else computed between the brackets the order statistics
  put on both quantile functions (:mod:`loopml.data._orderstats`), the middle reported
  with half the bracket as the bound. A profile stored before order statistics were
  kept (``loopml.profile/2``) brackets them by its 1,001 quantiles: the distances are
  reported as they were then (so verdicts on old references stand), with how far they
  can be from the exact ones as the bound (much wider), and ``from_quantiles`` is 1.
  ``psi`` and ``jensenshannon`` over the reference's decile bins come from the same
  brackets (:mod:`loopml.data._binned`): exact under the same conditions, else the
  middle of their bracket with half of it as the bound.
- **Categorical** (``jensenshannon``, base 2, with ``psi``, ``linf`` and the chi-square
  test on the same counts): exact when both profiles count every value (up to 1,000
  distinct values, or all of them in ``all_values``). Otherwise (an older profile) it
  is reported as before, the uncounted values pooled as "(other)", and its bound comes
  from bracketing the values not counted on both sides: pooled into one value (which
  can only lower the distance) and kept apart (which can only raise it). The PSI of
  such pooled counts has no finite bound (how the pooled rows split is unknown, and a
  share under PSI's floor weighs any amount), so its ``psi_bound`` is infinite, and
  ``linf_bound`` says only that L-infinity lies between 0 and 1.

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> ref = profile(pl.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}))
>>> cur = profile(pl.DataFrame({"x": [0.0, 1.0, 2.0, 30.0]}))
>>> found = numeric_distances(ref.column("x"), cur.column("x"), ref, cur)
>>> found["wasserstein_raw"], found["wasserstein_raw_bound"], found["ks"]
(6.75, 0.0, 0.25)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from loopml.data import _stats
from loopml.data._binned import binned_distances
from loopml.data._orderstats import (
    OrderStats,
    exact_distances,
    ks_bounds,
    middle,
    wasserstein_bounds,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from loopml.data._profile import ColumnProfile, Profile


def numeric_distances(
    ref: ColumnProfile,
    cur: ColumnProfile,
    reference: Profile,
    current: Profile,
    *,
    binned: bool = True,
) -> dict[str, float]:
    """Wasserstein (normalized and raw) and KS, each with its bound; ``ks_gap`` (the
    signed statistic SciPy's test takes) when both are exact; with ``binned``, PSI and
    Jensen-Shannon over the reference's deciles too."""
    ref_values, ref_stats, ref_from = _order_stats(ref, reference)
    cur_values, cur_stats, cur_from = _order_stats(cur, current)
    found: dict[str, float] = {}
    assert ref.quantiles is not None
    assert cur.quantiles is not None
    if binned:
        edges = _stats.decile_edges(ref.quantiles)
        if "quantiles" in (ref_from, cur_from):
            found |= _binned_as_before(ref.quantiles, cur.quantiles, ref_stats, cur_stats, edges)
        else:
            found |= binned_distances(ref_stats, cur_stats, edges)
    if ref_values is not None and cur_values is not None:
        raw, ks, gap = exact_distances(ref_values, cur_values)
        raw_bound = ks_bound = 0.0
        if ref_from == cur_from == "sample":  # the samples the KS test takes
            found["ks_gap"] = gap
    elif "quantiles" in (ref_from, cur_from):
        # As loopml measured them before (so verdicts on old profiles stand), with the
        # honest bound: the farther end of the bracket.
        raw = _stats.wasserstein(ref.quantiles, cur.quantiles)
        raw_bound = _farthest(raw, wasserstein_bounds(ref_stats, cur_stats))
        ks = _stats.ks_statistic(ref.quantiles, cur.quantiles)
        ks_bound = _farthest(ks, ks_bounds(ref_stats, cur_stats))
    else:
        raw, raw_bound = middle(wasserstein_bounds(ref_stats, cur_stats))
        ks, ks_bound = middle(ks_bounds(ref_stats, cur_stats))
    scale = ref.std or 0.0
    if scale > 0:
        normalized, normalized_bound = raw / scale, raw_bound / scale
    else:
        normalized = 0.0 if raw == 0 and raw_bound == 0 else math.inf
        normalized_bound = 0.0 if raw_bound == 0 else math.inf
    found.update(
        wasserstein=normalized,
        wasserstein_bound=normalized_bound,
        wasserstein_raw=raw,
        wasserstein_raw_bound=raw_bound,
        ks=ks,
        ks_bound=ks_bound,
        from_quantiles=float("quantiles" in (ref_from, cur_from)),
    )
    return found


def _binned_as_before(
    ref_quantiles: Sequence[float],
    cur_quantiles: Sequence[float],
    ref_stats: OrderStats,
    cur_stats: OrderStats,
    edges: npt.NDArray[np.float64],
) -> dict[str, float]:
    """PSI and JS of an older profile, read off the quantiles as they were then, each
    with its honest bound: the farther end of the bracket its order statistics give."""
    ref_bins, cur_bins = _stats.numeric_bins(ref_quantiles, cur_quantiles)
    bracketed = binned_distances(ref_stats, cur_stats, edges)
    found: dict[str, float] = {}
    for name, value in (
        ("psi", _stats.psi(ref_bins, cur_bins)),
        ("jensenshannon", _stats.js_distance(ref_bins, cur_bins)),
    ):
        middle_value, half = bracketed[name], bracketed[f"{name}_bound"]
        found[name] = value
        found[f"{name}_bound"] = _farthest(value, (middle_value - half, middle_value + half))
    return found


def _farthest(value: float, bounds: tuple[float, float]) -> float:
    """How far ``value`` can be from a distance known to lie within ``bounds``."""
    return max(abs(value - bounds[0]), abs(bounds[1] - value))


def kept_order_stats(column: ColumnProfile, table: Profile) -> OrderStats | None:
    """The column's order statistics, kept or from a sample that is the whole table;
    None for an older profile that has only its quantiles."""
    _, stats, source = _order_stats(column, table)
    return None if source == "quantiles" else stats


def _order_stats(
    column: ColumnProfile, table: Profile
) -> tuple[npt.NDArray[np.float64] | None, OrderStats, str]:
    """(every value sorted, when known; the order statistics; where they come from:
    "kept", "sample" or the "quantiles" of an older profile)."""
    import numpy as np

    kept = column.order_stats
    if kept is not None:
        return (kept.low if kept.complete else None), kept, "kept"
    if table.sample is not None and table.sample.height == table.rows:
        values = table.sample_values(column.name)
        if values is not None and len(values) == column.count:
            ordered = np.sort(values)
            return ordered, OrderStats.exact(ordered), "sample"
    assert column.quantiles is not None
    return None, OrderStats.from_quantiles(column.quantiles, column.count), "quantiles"


def categorical_distances(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[dict[str, float], list[str], list[int], list[int], tuple[list[int], list[int]]]:
    """Jensen-Shannon (with its bound), PSI and L-infinity; the values and counts shown
    (the counted ones, the rest pooled as "(other)"); and both count vectors over every
    value when both profiles count them all (else over those shown), for the test."""
    keys, ref_counts, cur_counts = _shown_counts(ref, cur)
    exact = True
    if not ref.other and not cur.other:
        ref_full, cur_full = ref_counts, cur_counts
        js, js_bound = _js_exact(ref_full, cur_full), 0.0
    elif ref.all_values is not None and cur.all_values is not None:
        ref_full, cur_full = _joined_counts(ref.all_values, cur.all_values)
        js, js_bound = _js_exact(ref_full, cur_full), 0.0
    else:  # as loopml measured it before, with the other values pooled; and its bound
        ref_full, cur_full = ref_counts, cur_counts
        js = _stats.js_distance(_shares(ref_full), _shares(cur_full))
        js_bound = _farthest(js, _js_bracket(ref, cur))
        exact = False
    ref_p, cur_p = _shares(ref_full), _shares(cur_full)
    linf = _stats.linf(ref_p, cur_p)
    measures = {
        "jensenshannon": js,
        "jensenshannon_bound": js_bound,
        "psi": _stats.psi(ref_p, cur_p),
        "psi_bound": 0.0 if exact else math.inf,
        "linf": linf,
        "linf_bound": 0.0 if exact else _farthest(linf, (0.0, 1.0)),
    }
    return measures, keys, ref_counts, cur_counts, (list(ref_full), list(cur_full))


def _shown_counts(ref: ColumnProfile, cur: ColumnProfile) -> tuple[list[str], list[int], list[int]]:
    from loopml.data._records import value_key as _key

    ref_counts = {_key(v): n for v, n in ref.values or ()}
    cur_counts = {_key(v): n for v, n in cur.values or ()}
    keys = sorted(set(ref_counts) | set(cur_counts))
    r = [ref_counts.get(k, 0) for k in keys]
    c = [cur_counts.get(k, 0) for k in keys]
    if ref.other or cur.other:  # values beyond the counted ones, pooled
        keys.append("(other)")
        r.append(ref.other)
        c.append(cur.other)
    return keys, r, c


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [n / total for n in counts] if total else [0.0] * len(counts)


def _joined_counts(ref: Any, cur: Any) -> tuple[list[int], list[int]]:
    """Both columns' counts of every value either has, in the values' order: a join's
    own order varies from run to run, and a permutation test's draws, though seeded,
    land on other values when the order moves."""
    import polars as pl

    joined = (
        ref.select(pl.col("value").cast(pl.String), pl.col("n").cast(pl.Int64).alias("r"))
        .join(
            cur.select(pl.col("value").cast(pl.String), pl.col("n").cast(pl.Int64).alias("c")),
            on="value",
            how="full",
            coalesce=True,
        )
        .fill_null(0)
        .sort("value")
    )
    return joined["r"].to_list(), joined["c"].to_list()


def _js_exact(ref_counts: list[int], cur_counts: list[int]) -> float:
    """What ``scipy.spatial.distance.jensenshannon(ref, cur, base=2)`` gives, summed
    over the counts and divided once: 1.0 exactly for disjoint columns."""
    import numpy as np

    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    ref_p, cur_p = r / r.sum(), c / c.sum()
    both = (ref_p + cur_p) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ref_terms = np.where(r > 0, np.log2(ref_p / both), 0.0)
        cur_terms = np.where(c > 0, np.log2(cur_p / both), 0.0)
    divergence = (
        float((r * ref_terms).sum()) / r.sum() + float((c * cur_terms).sum()) / c.sum()
    ) / 2
    return math.sqrt(max(divergence, 0.0))


def _js_bracket(ref: ColumnProfile, cur: ColumnProfile) -> tuple[float, float]:
    """The least and greatest JS distance two columns with these top counts can have:
    the values counted on both sides are known; the rest of each side is pooled into
    one value (the least: pooling never raises JS) or kept apart (the greatest: a
    value's share of JS is at most half its mass on both sides, reached when they
    share none of it)."""
    from loopml.data._records import value_key as _key

    ref_counts = {_key(v): n for v, n in ref.values or ()}
    cur_counts = {_key(v): n for v, n in cur.values or ()}
    both = sorted(set(ref_counts) & set(cur_counts))
    r = [ref_counts[k] / ref.count for k in both]
    c = [cur_counts[k] / cur.count for k in both]
    rest_r, rest_c = max(0.0, 1.0 - sum(r)), max(0.0, 1.0 - sum(c))
    least = _stats.js_distance([*r, rest_r], [*c, rest_c])
    known = _stats.js_distance([*r, 0.0], [*c, 0.0]) ** 2
    return least, math.sqrt(min(1.0, known + (rest_r + rest_c) / 2))
