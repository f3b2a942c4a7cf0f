"""The statistical evidence behind validation's decisions, each from SciPy.

Three kinds of question are asked of a batch, and each gets a test sized for it:

- **Is a share above its limit?** (missing values, values out of range or outside a
  domain, duplicate rows.) A limit is a share of the population; a batch breaks it
  when its count makes that certain: the one-sided binomial test of "the share is at
  most the limit" gives p < ``check_alpha`` (0.005), or, for a limit inferred from a
  reference, so does the exact test of the batch's count against the reference's. A
  small batch needs more than a value over the limit; a large one barely more.
- **What limit does a reference of n rows allow?** Its share's upper 99% Clopper-Pearson
  bound: a column never missing in 100 rows may be missing in up to 4.5% of the
  population; in 100,000 rows, up to 0.005%.
- **Did a column's distribution move?** Two-sample tests (KS and Cramér-von Mises for
  numbers, chi-square or its permutation version for categories) give one p-value per
  column; Holm's procedure over all compared columns keeps the chance of any false
  alarm in a batch at ``drift_alpha`` (5%).

>>> round(upper_bound(0, 100), 4), round(upper_bound(0, 100_000), 6)
(0.045, 4.6e-05)
>>> above_limit(5, 100, 0.01) < 0.001, above_limit(30, 1000, 0.01) < 0.001
(False, True)
>>> holm([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from loopml.data._orderstats import OrderStats

    Floats = npt.NDArray[np.float64]

BOUND_LEVEL = 0.99  # a reference's share is taken at most at this upper bound
CHECK_ALPHA = 0.005  # a share is above its limit when this sure
DRIFT_ALPHA = 0.05  # the chance of any false drift alarm in one batch
PERMUTATIONS = 2000  # draws of the permutation test of a sparse table...
FIRST_PERMUTATIONS = 200  # ...after these first ones, when they give a p-value...
FEW_ENOUGH = 0.05  # ...below this
PERMUTATION_SEED = 20_261_206


def upper_bound(count: int, rows: int, level: float = BOUND_LEVEL) -> float:
    """The one-sided upper Clopper-Pearson bound of a share seen ``count`` times in
    ``rows``: the largest population share that shows so few with ``1 - level`` chance."""
    if rows <= 0 or count >= rows:
        return 1.0
    if count == 0:  # the bound in closed form: (1 - p) ** rows = 1 - level
        return float(1.0 - (1.0 - level) ** (1.0 / rows))
    from scipy.special import betaincinv

    return float(betaincinv(count + 1, rows - count, level))


def above_limit(count: int, rows: int, limit: float) -> float:
    """The p-value of "the share is at most ``limit``" given ``count`` of ``rows``: the
    chance of ``count`` or more at that share (1 when the count is within it)."""
    from scipy.special import bdtrc

    if rows <= 0 or count <= limit * rows:
        return 1.0
    if limit <= 0:
        return 0.0
    return float(bdtrc(count - 1, rows, limit))  # P(X >= count) = P(X > count - 1)


def more_than_before(count: int, rows: int, before: int, before_rows: int) -> float:
    """The p-value of "the share is no higher than the reference's", given ``count`` of
    ``rows`` now and ``before`` of ``before_rows`` then: the exact conditional test of
    two rare counts (given their total, the batch's part is binomial with its share of
    the rows), which compares the batch with the reference itself.

    >>> round(more_than_before(9, 300, 0, 300), 4)
    0.002
    """
    total = count + before
    if not count or rows <= 0:
        return 1.0
    if before_rows <= 0:
        return 0.0
    share = rows / (rows + before_rows)
    if not before:  # every one of them in the batch
        return float(share**count)
    from scipy.special import bdtrc

    return float(bdtrc(count - 1, total, share))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: reject where the adjusted value is below alpha, and
    the chance of any false rejection in the family stays at alpha."""
    return holm_partial(p_values, len(p_values))


def holm_partial(p_values: Sequence[float | None], family: int) -> list[float]:
    """Holm's adjustment of some of a family's p-values, the others (not computed)
    taken as larger than all of these: exact when they are, conservative when not.

    >>> holm_partial([0.01, 0.02], 5)
    [0.05, 0.08]
    """
    present = [math.nan if p is None else p for p in p_values]
    order = sorted(range(len(present)), key=lambda i: present[i])
    adjusted = [1.0] * len(present)
    running = 0.0
    for rank, index in enumerate(order):
        value = min(1.0, (family - rank) * present[index])
        running = max(running, value)
        adjusted[index] = running
    return adjusted


def numeric_tests(reference: Floats, current: Floats) -> dict[str, float]:
    """KS (sensitive to any difference, most to the middle) and Cramér-von Mises (more
    powerful against a shift of location or scale) on the raw values; ``p`` combines
    them (the smaller, doubled: Bonferroni over the two). The values are sorted first,
    so that ties are broken the same way whatever order the rows came in (a sample's,
    or a merged profile's sorted values)."""
    import numpy as np
    from scipy.stats import cramervonmises_2samp, ks_2samp

    reference, current = np.sort(reference), np.sort(current)
    if len(reference) < 2 or len(current) < 2:
        return {"ks_p": 1.0, "cvm_p": 1.0, "p": 1.0}
    ks = ks_2samp(reference, current)
    cvm = cramervonmises_2samp(*_untied_ranks(reference, current))
    ks_p, cvm_p = float(ks.pvalue), float(cvm.pvalue)
    return {
        "ks_statistic_sample": float(ks.statistic),
        "ks_p": ks_p,
        "cvm": float(cvm.statistic),
        "cvm_p": cvm_p,
        "p": min(1.0, 2 * min(ks_p, cvm_p)),
    }


def ks_test_bracketed(reference: OrderStats, current: OrderStats) -> dict[str, float]:
    """The KS test of two columns known by their order statistics (large ones, whose
    values are not all kept): the p-value of the least KS statistic their brackets
    allow, from Kolmogorov's limiting distribution at ``n m / (n + m)``. Conservative
    twice over: the exact statistic is at least that one, so its p-value at most
    this; and the limiting distribution overstates the p-value of a finite sample a
    little (Stephens' correction scales the statistic up), by less as the columns grow
    (at a handful of rows a side it can understate it in the third digit: the test is
    taken for columns too large to be tested on their values).

    >>> import numpy as np
    >>> from loopml.data._orderstats import OrderStats, sketch
    >>> a = np.sort(np.random.default_rng(0).normal(size=20_000))
    >>> kept = OrderStats(20_000, *sketch(a, 256))
    >>> same = ks_test_bracketed(kept, kept)
    >>> moved = ks_test_bracketed(kept, OrderStats(20_000, *sketch(a + 0.1, 256)))
    >>> same["p"], moved["p"] < 1e-6
    (1.0, True)
    """
    from scipy.special import kolmogorov

    from loopml.data._orderstats import ks_bounds

    least, most = ks_bounds(reference, current)
    n, m = reference.count, current.count
    if n < 1 or m < 1:
        return {"ks_least": 0.0, "ks_p": 1.0, "p": 1.0}
    p = float(kolmogorov(math.sqrt(n * m / (n + m)) * least))
    return {"ks_least": least, "ks_most": most, "ks_p": p, "p": p}


def _untied_ranks(reference: Floats, current: Floats) -> tuple[Floats, Floats]:
    """Both samples' ranks in the pooled values, ties broken at random (seeded).

    SciPy's two-sample Cramér-von Mises test assumes no ties: on samples of unequal
    sizes with many (wind speeds in whole knots, 283 values in 18,000 days) it gives
    p = 1e-11 for two random halves of one column. Broken at random, the ranks are a
    uniformly random permutation under the null, so the test's level is exact again
    (the classic randomised treatment of ties); the test depends on ranks only, so
    the ranks can stand for the values.

    >>> import numpy as np
    >>> reference, current = _untied_ranks(np.array([1.0, 2.0, 2.0]), np.array([2.0, 5.0]))
    >>> reference[0], sorted([*reference[1:], *current[:1]]), current[1]
    (np.float64(0.0), [np.float64(1.0), np.float64(2.0), np.float64(3.0)], np.float64(4.0))
    """
    import numpy as np

    pooled = np.concatenate((reference, current))
    keys = np.random.default_rng(PERMUTATION_SEED).random(len(pooled))
    ranks = np.empty(len(pooled), dtype=np.float64)
    ranks[np.lexsort((keys, pooled))] = np.arange(len(pooled), dtype=np.float64)
    return ranks[: len(reference)], ranks[len(reference) :]


def categorical_test(
    reference: Sequence[int], current: Sequence[int], *, strictest: float = DRIFT_ALPHA
) -> dict[str, float]:
    """The two-sample test of two count vectors over the same values; ``strictest`` is
    the smallest level its p-value will be held to (Holm's first: the family's alpha
    over the number of columns compared).

    Pearson's chi-square of homogeneity when its approximation holds (every expected
    count at least 5, Cochran's rule); otherwise the same statistic's permutation
    distribution, drawn exactly (tables with both margins fixed are multivariate
    hypergeometric), so a sparse table of many rare values gets a valid p-value.

    When the current batch has values the reference never had, a second statistic is
    tested on the same permutations: how many current rows hold such values. An
    omnibus chi-square spreads its power over every value; this one is aimed at new
    values (11 rows of a new value in 300 give p = 0.0005 where the chi-square gives
    0.03). ``p`` combines the two: the smaller, calibrated on the same permutations.

    A permutation p-value is never below one over the draws plus one, so the draws
    reach below ``strictest``: at least twice its inverse (2,000 at least), or a
    replaced set of values could never pass Holm's threshold in a wide table.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=np.int64)
    cur = np.asarray(current, dtype=np.int64)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if len(ref) < 2 or not ref.sum() or not cur.sum():
        return {"chisquare": 0.0, "chisquare_p": 1.0, "p": 1.0}
    # A first few draws settle most columns, those far from significant; the rest
    # get every draw. (A p-value of at least FEW_ENOUGH from the first is reported as
    # it is; only smaller ones, which decisions need, come from all the draws.)
    found = _categorical_test(ref, cur, FIRST_PERMUTATIONS)
    if found.get("permutations") and found["p"] < FEW_ENOUGH:
        draws = max(PERMUTATIONS, math.ceil(2 / strictest)) if strictest > 0 else PERMUTATIONS
        found = _categorical_test(ref, cur, draws)
    return found


def _categorical_test(
    ref: npt.NDArray[np.int64], cur: npt.NDArray[np.int64], draws: int
) -> dict[str, float]:
    import numpy as np

    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    totals = ref + cur
    statistic = float(_chi_square(ref[None, :], totals, n_ref, n_ref + n_cur)[0])
    new_rows = int(cur[ref == 0].sum())
    expected_least = float(totals.min()) * min(n_ref, n_cur) / (n_ref + n_cur)
    found: dict[str, float] = {"chisquare": statistic}
    chi_drawn, new_drawn = (
        _permuted_statistics(totals, n_ref, draws, new_values=new_rows > 0)
        if expected_least < 5 or new_rows
        else (None, None)
    )
    if expected_least >= 5:
        from scipy.special import chdtrc

        found["chisquare_p"] = float(chdtrc(len(ref) - 1, statistic))
    else:
        assert chi_drawn is not None
        found["chisquare_p"] = _share_at_least(chi_drawn, statistic)
        found["permutations"] = float(draws)
    found["p"] = found["chisquare_p"]
    if new_rows:
        assert chi_drawn is not None
        assert new_drawn is not None
        found["new_rows"] = float(new_rows)
        found["new_values_p"] = _share_at_least(new_drawn, new_rows)
        found["permutations"] = float(draws)
        # The smaller of the two p-values, calibrated on the same permutations (the
        # minP method): exact, and less conservative than doubling it.
        observed = min(_share_at_least(chi_drawn, statistic), found["new_values_p"])
        smallest = np.minimum(_tail_shares(chi_drawn), _tail_shares(new_drawn))
        at_most = int(np.count_nonzero(smallest <= observed * (1 + 1e-12)))
        found["p"] = (at_most + 1) / (draws + 1)
    return found


def _tail_shares(drawn: Floats) -> Floats:
    """Each draw's own permutation p-value among the draws."""
    import numpy as np

    ordered = np.sort(drawn)
    at_least = len(drawn) - np.searchsorted(ordered, drawn * (1 - 1e-12), side="left")
    shares: Floats = (at_least + 1) / (len(drawn) + 1)
    return shares


def _permuted_statistics(
    totals: npt.NDArray[np.int64], n_ref: int, draws: int, *, new_values: bool
) -> tuple[Floats, Floats | None]:
    """The statistics of ``draws`` tables with the margins of the observed one (each
    draw the counts of the reference's side, given every value's total): the
    chi-square, and (``new_values``) the current rows holding values the draw's
    reference side never had. Drawn PERMUTATIONS at a time, so that many draws of many
    values never hold every table at once."""
    import numpy as np

    rng = np.random.default_rng(PERMUTATION_SEED)
    # Drawing row by row is quicker when there are few rows per value (many rare ones).
    n = int(totals.sum())
    few = n <= 50 * len(totals)
    chi, new = [], []
    for start in range(0, draws, PERMUTATIONS):
        drawn = rng.multivariate_hypergeometric(
            totals,
            n_ref,
            size=min(PERMUTATIONS, draws - start),
            method="count" if few else "marginals",
        )
        chi.append(_chi_square(drawn, totals, n_ref, n))
        if new_values:
            new.append(np.where(drawn == 0, totals, 0).sum(axis=1).astype(np.float64))
    return np.concatenate(chi), np.concatenate(new) if new_values else None


def _share_at_least(drawn: Floats, observed: float) -> float:
    """The permutation p-value: the observed table counts as one of the draws, so p is
    never 0 and the test is exact in level."""
    import numpy as np

    exceed = int(np.count_nonzero(drawn >= observed * (1 - 1e-12)))
    return (exceed + 1) / (len(drawn) + 1)


def _chi_square(
    ref: npt.NDArray[np.int64], totals: npt.NDArray[np.int64], n_ref: int, n: int
) -> Floats:
    """Pearson's statistic of each 2 x k table whose first row is a row of ``ref`` and
    whose column totals are ``totals``. With both margins fixed, the second row's
    deviations from its expected counts are the first's negated, so a column of total
    ``t`` adds ``d**2 / (t * s * (1 - s))``, ``d`` the first row's deviation and ``s``
    its share of the rows (the second row's table is never made)."""
    import numpy as np

    share = n_ref / n
    weights = 1.0 / (totals * (share * (1 - share)))
    deviations = ref - totals * share
    result: Floats = np.einsum("ij,ij,j->i", deviations, deviations, weights)
    return result


def fmt_p(p: float) -> str:
    """A p-value as a person reads it: 0.0007, 3e-12, <1e-300."""
    if p <= 0 or not math.isfinite(p):
        return "<1e-300" if p <= 0 else str(p)
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.0e}"
