"""Every measure between two profiles of one column: distances (effect sizes) from the
whole table's stored statistics, and what the report draws.

Distances are exact or carry a stated bound (:mod:`loopml.data._distances`); the
tests' p-values come from :mod:`loopml.data._evidence`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.data import _stats

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile


def categorical_measures(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any], tuple[list[int], list[int]]]:
    """The measures, each side's shares per value (for the report), and both count
    vectors over the same values (for the test)."""
    from loopml.data._distances import categorical_distances

    # Exact over every value when both profiles count them all, else with a bound.
    measures, keys, r, c, full = categorical_distances(ref, cur)
    ref_p = [n / ref.count for n in r]
    cur_p = [n / cur.count for n in c]
    shown = {"values": keys[:50], "shares": ref_p[:50]}
    return measures, shown, {"values": keys[:50], "shares": cur_p[:50]}, full


def numeric_measures(
    ref: ColumnProfile,
    cur: ColumnProfile,
    reference: Profile,
    current: Profile,
    *,
    brief: bool = False,
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    """The measures and each side's curve; ``brief``: no PSI and Jensen-Shannon, and
    no curves (empty)."""
    from loopml.data._distances import numeric_distances

    assert ref.quantiles is not None
    assert cur.quantiles is not None
    # Wasserstein, KS, PSI and JS: exact, or with their bounds (``*_bound``); see
    # _distances.
    measures = numeric_distances(ref, cur, reference, current, binned=not brief)
    measures.pop("ks_gap", None)
    scale = ref.std or 0.0
    measures |= {
        "mean_shift": ((cur.mean or 0.0) - (ref.mean or 0.0)) / scale if scale > 0 else 0.0,
        "std_ratio": (cur.std or 0.0) / scale if scale > 0 else 1.0,
    }
    if brief:
        return measures, {}, {}
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
