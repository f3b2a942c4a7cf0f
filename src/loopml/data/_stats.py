"""Distances between two column profiles read off their stored quantiles and counts
(profiles stored before order statistics were kept are measured this way), and the
binned PSI and Jensen-Shannon of numeric columns. The tests are in
:mod:`loopml.data._evidence`, the exact distances in :mod:`loopml.data._distances`.

>>> import numpy as np
>>> float(cdf_from_quantiles(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([2.0]))[0])
0.5
>>> round(js_distance([0.5, 0.5], [0.7, 0.3]), 3), round(linf([0.5, 0.5], [0.7, 0.3]), 2)
(0.174, 0.2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]

PSI_FLOOR = 1e-4  # bins empty on one side would make PSI infinite
NUMERIC_BINS = 10  # PSI and JS of numeric columns: the reference's deciles


def cdf_from_quantiles(quantiles: Floats, points: Floats) -> Floats:
    """The share of values <= each point, read off quantiles at equal steps (0..1)."""
    import numpy as np

    q = np.asarray(quantiles, dtype=np.float64)
    x = np.asarray(points, dtype=np.float64)
    steps = len(q) - 1
    # np.minimum and np.maximum rather than np.clip: the same values, a tenth of the
    # overhead, which counts for a table of 20,000 columns.
    found = np.searchsorted(q, x, side="right")
    above = np.minimum(np.maximum(found, 1), steps)  # q[above-1] <= x < q[above]
    low, high = q[above - 1], q[above]
    width = high - low
    fraction = np.where(width > 0, (x - low) / np.where(width > 0, width, 1.0), 0.0)
    result: Floats = (above - 1 + np.minimum(np.maximum(fraction, 0.0), 1.0)) / steps
    result[x < q[0]] = 0.0
    result[x >= q[-1]] = 1.0
    return result


def wasserstein(ref_quantiles: Sequence[float], cur_quantiles: Sequence[float]) -> float:
    """Earth mover's distance W1 = integral over u of |Q_ref(u) - Q_cur(u)|."""
    import numpy as np

    gap = np.abs(np.asarray(ref_quantiles) - np.asarray(cur_quantiles))
    return float((gap[:-1] + gap[1:]).sum() / (2 * (len(gap) - 1)))


def ks_statistic(ref_quantiles: Sequence[float], cur_quantiles: Sequence[float]) -> float:
    """KS distance sup |F_ref - F_cur|, from quantiles (to within one quantile step)."""
    import numpy as np

    ref = np.asarray(ref_quantiles, dtype=np.float64)
    cur = np.asarray(cur_quantiles, dtype=np.float64)
    # Sorted (searchsorted is quicker for sorted points); repeated points do not change
    # the largest gap, so they are not removed.
    points = np.sort(np.concatenate((ref, cur)))
    return float(np.abs(cdf_from_quantiles(ref, points) - cdf_from_quantiles(cur, points)).max())


def numeric_bins(
    ref_quantiles: Sequence[float] | Floats, cur_quantiles: Sequence[float] | Floats
) -> tuple[list[float], list[float]]:
    """Shares of both tables in the reference's decile bins (open at both ends)."""
    import numpy as np

    ref = np.asarray(ref_quantiles, dtype=np.float64)
    cur = np.asarray(cur_quantiles, dtype=np.float64)
    edges = decile_edges(ref)
    ref_cdf = np.concatenate(([0.0], cdf_from_quantiles(ref, edges), [1.0]))
    cur_cdf = np.concatenate(([0.0], cdf_from_quantiles(cur, edges), [1.0]))
    return [float(s) for s in np.diff(ref_cdf)], [float(s) for s in np.diff(cur_cdf)]


def decile_edges(ref_quantiles: Sequence[float] | Floats) -> Floats:
    """The inner edges of the bins of PSI and JS of a numeric column: the reference's
    deciles, read off its quantiles at equal steps, each once."""
    import numpy as np

    ref = np.asarray(ref_quantiles, dtype=np.float64)
    steps = len(ref) - 1
    edges: Floats = ref[[steps * k // NUMERIC_BINS for k in range(1, NUMERIC_BINS)]]
    # sorted already: each once without np.unique, whose first call costs 25 ms of imports
    return edges[np.concatenate(([True], edges[1:] != edges[:-1]))]


def psi(ref: Sequence[float], cur: Sequence[float]) -> float:
    """Population stability index: sum of (cur - ref) * ln(cur / ref) over bins."""
    total = 0.0
    for r, c in zip(ref, cur, strict=True):
        r, c = max(r, PSI_FLOOR), max(c, PSI_FLOOR)
        total += (c - r) * math.log(c / r)
    return total


def js_distance(ref: Sequence[float], cur: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2: 0 for equal, 1 for disjoint distributions)."""
    total = 0.0
    for r, c in zip(ref, cur, strict=True):
        m = (r + c) / 2
        if r > 0:
            total += r * math.log2(r / m) / 2
        if c > 0:
            total += c * math.log2(c / m) / 2
    return math.sqrt(max(total, 0.0))


def linf(ref: Sequence[float], cur: Sequence[float]) -> float:
    """The largest difference in share of any one value (TFDV's L-infinity)."""
    return max((abs(r - c) for r, c in zip(ref, cur, strict=True)), default=0.0)
