"""Every measure between two profiles of one column: distances (effect sizes) from the
whole table's stored statistics, and what the report draws.

Distances use the whole table through the stored quantiles and counts; the tests'
p-values come from :mod:`loopml.data._evidence`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from loopml.data import _stats
from loopml.data._records import value_key

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile


def categorical_measures(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any], tuple[list[int], list[int]]]:
    """The measures, each side's shares per value (for the report), and both count
    vectors over the same values (for the test)."""
    ref_counts = {value_key(v): n for v, n in ref.values or ()}
    cur_counts = {value_key(v): n for v, n in cur.values or ()}
    keys = sorted(set(ref_counts) | set(cur_counts))
    r = [ref_counts.get(k, 0) for k in keys]
    c = [cur_counts.get(k, 0) for k in keys]
    if ref.other or cur.other:  # values beyond the counted ones, pooled
        keys.append("(other)")
        r.append(ref.other)
        c.append(cur.other)
    ref_p = [n / ref.count for n in r]
    cur_p = [n / cur.count for n in c]
    measures = {
        "jensenshannon": _stats.js_distance(ref_p, cur_p),
        "psi": _stats.psi(ref_p, cur_p),
        "linf": _stats.linf(ref_p, cur_p),
    }
    shown = {"values": keys[:50], "shares": ref_p[:50]}
    return measures, shown, {"values": keys[:50], "shares": cur_p[:50]}, (r, c)


def numeric_measures(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    assert ref.quantiles is not None
    assert cur.quantiles is not None
    distance = _stats.wasserstein(ref.quantiles, cur.quantiles)
    scale = ref.std or 0.0
    normalized = distance / scale if scale > 0 else (0.0 if distance == 0 else math.inf)
    ref_bins, cur_bins = _stats.numeric_bins(ref.quantiles, cur.quantiles)
    measures = {
        "wasserstein": normalized,
        "wasserstein_raw": distance,
        "ks": _stats.ks_statistic(ref.quantiles, cur.quantiles),
        "psi": _stats.psi(ref_bins, cur_bins),
        "jensenshannon": _stats.js_distance(ref_bins, cur_bins),
        "mean_shift": ((cur.mean or 0.0) - (ref.mean or 0.0)) / scale if scale > 0 else 0.0,
        "std_ratio": (cur.std or 0.0) / scale if scale > 0 else 1.0,
    }
    return measures, _curve(ref, cur, ref), _curve(ref, cur, cur)


def _curve(ref: ColumnProfile, cur: ColumnProfile, which: ColumnProfile) -> dict[str, Any]:
    """Shares in 30 common bins over both columns' central range, for the report."""
    import numpy as np

    assert ref.quantiles
    assert cur.quantiles
    assert which.quantiles
    steps = len(ref.quantiles) - 1
    low = min(ref.quantiles[steps // 200], cur.quantiles[steps // 200])
    high = max(ref.quantiles[steps - steps // 200], cur.quantiles[steps - steps // 200])
    if not high > low:
        low, high = min(ref.quantiles[0], cur.quantiles[0]), max(ref.quantiles[-1], high)
    edges = np.linspace(low, high, 31) if high > low else np.array([low, low])
    cdf = _stats.cdf_from_quantiles(np.asarray(which.quantiles), edges)
    return {"edges": [float(e) for e in edges], "shares": [float(s) for s in np.diff(cdf)]}
