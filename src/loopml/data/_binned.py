"""PSI and Jensen-Shannon of a numeric column over the reference's decile bins, each
with the bound of its error.

The bins are ``(-inf, e1], (e1, e2], ..., (e9, inf)`` with ``e1..e9`` the reference's
deciles as its profile stores them. The exact measure is the one computed from every
value of both columns in those bins. From order statistics the share of values at or
below an edge is known to lie in a bracket (exact when every value is known), so each
bin's share does too. Each measure is a sum over bins of a term that, in either share
with the other held fixed, falls to zero where they are equal and rises away from it;
so over a box of shares the term is greatest at a corner and least at the corner
nearest the diagonal (zero when the box crosses it). Summing those per bin brackets the
measure; what is reported is the middle, with half the bracket as the bound, as for
the other distances (:mod:`loopml.data._orderstats`).

>>> import numpy as np
>>> from loopml.data._orderstats import OrderStats
>>> a = OrderStats.exact(np.arange(10.0))
>>> b = OrderStats.exact(np.arange(10.0) + 3)
>>> found = binned_distances(a, b, np.arange(1.0, 10.0))
>>> # tenths per bin: 2 1 1 1 1 1 1 1 1 0 and 0 0 1 1 1 1 1 1 1 3; SciPy's JS: 0.5477
>>> round(found["jensenshannon"], 3), found["jensenshannon_bound"], found["psi_bound"]
(0.548, 0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from loopml.data._stats import PSI_FLOOR

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import numpy.typing as npt

    from loopml.data._orderstats import OrderStats

    Floats = npt.NDArray[np.float64]


def binned_distances(ref: OrderStats, cur: OrderStats, edges: Floats) -> dict[str, float]:
    """``psi`` and ``jensenshannon`` (base 2) over the bins ``edges`` make, with
    ``psi_bound`` and ``jensenshannon_bound``: 0 when both columns are complete."""
    ref_low, ref_high = share_brackets(ref, edges)
    cur_low, cur_high = share_brackets(cur, edges)
    found: dict[str, float] = {}
    for name, term in (("psi", _psi_term), ("jensenshannon", _js_term)):
        least, most = _term_bracket(term, ref_low, ref_high, cur_low, cur_high)
        low, high = float(least.sum()), float(most.sum())
        if name == "jensenshannon":
            low, high = math.sqrt(max(low, 0.0)), math.sqrt(max(high, 0.0))
        found[name] = (low + high) / 2
        found[f"{name}_bound"] = (high - low) / 2
    return found


def share_brackets(stats: OrderStats, edges: Floats) -> tuple[Floats, Floats]:
    """The least and greatest share of the column in each bin ``edges`` make."""
    import numpy as np

    starts, low, high = stats.segments()
    done = np.append(starts, stats.count) / stats.count
    # values <= x: at least the segments whose high is <= x, at most those whose low is
    at_least = done[np.searchsorted(high, edges, side="right")]
    at_most = done[np.searchsorted(low, edges, side="right")]
    below_least = np.concatenate(([0.0], at_least, [1.0]))
    below_most = np.concatenate(([0.0], at_most, [1.0]))
    least = np.maximum(below_least[1:] - below_most[:-1], 0.0)
    most = np.minimum(below_most[1:] - below_least[:-1], 1.0)
    return least, most


def _term_bracket(
    term: Callable[[Floats, Floats], Floats],
    r_low: Floats,
    r_high: Floats,
    c_low: Floats,
    c_high: Floats,
) -> tuple[Floats, Floats]:
    """Per bin, the least and greatest of ``term(r, c)`` over the box of shares."""
    import numpy as np

    corners = [term(r, c) for r in (r_low, r_high) for c in (c_low, c_high)]
    most = np.maximum.reduce(corners)
    crosses = (r_low <= c_high) & (c_low <= r_high)
    nearest = np.where(c_low > r_high, term(r_high, c_low), term(r_low, c_high))
    return np.where(crosses, 0.0, nearest), most


def _psi_term(r: Floats, c: Floats) -> Floats:
    import numpy as np

    r, c = np.maximum(r, PSI_FLOOR), np.maximum(c, PSI_FLOOR)
    result: Floats = (c - r) * np.log(c / r)
    return result


def _js_term(r: Floats, c: Floats) -> Floats:
    """The bin's part of the squared JS distance (base 2)."""
    import numpy as np

    m = (r + c) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(r > 0, r * np.log2(r / m), 0.0)
        right = np.where(c > 0, c * np.log2(c / m), 0.0)
    result: Floats = (left + right) / 2
    return result
