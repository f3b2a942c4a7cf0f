"""The one-sided confidence bounds the decay rules are judged on.

Each was chosen by measuring false alarms on real data over many random splits
(``bench/monitor/decay_triggers.py``; docs/loop.md has the figures), where the
textbook bound let through more false alarms than its confidence claims:

- a window's accuracy: the exact Clopper-Pearson bound (Wilson's misses a 97%-accurate
  model's accuracy in 8% of windows of 100 rows at 95%, summed exactly);
- a classifier against its naive baseline: the exact sign test on the rows only one of
  the two gets right (McNemar's), read as a bound on the mean gain;
- a regressor against its baseline: the normal bound of the mean gain in squared error
  when the labels are light-tailed enough for the window (``rows >= 100 * skew**2``,
  the skewness of the training labels), else Cantelli's, which holds for any
  distribution (on doctor visits, skewness 4.8, the normal bound fired in 19.5% of
  windows of 30 rows at the edge, and 12% of windows of 500);
- a change since deployment: the window and the evaluation each with their sampling
  error (Newcombe's hybrid of two exact bounds for accuracies, the normal bound for two
  RMSEs); taking the evaluation's number as exact fired in 7.8% of windows of 200 days
  of NOAA's weather at the edge.

>>> round(exact_upper(27, 30, 0.95), 4)  # Wilson's: 0.9594
0.9722
>>> sign_gain_upper(better=10, worse=20, rows=100, confidence=0.95) < 0
True
"""

from __future__ import annotations

import math
from typing import Any

# Rows a window needs, per squared skewness of the labels, before the normal bound of a
# mean gain is trusted: the first-order (Edgeworth) error of a one-sided normal bound
# at 95% is about 0.11 * skew / sqrt(rows), kept near a fifth of the 5% it claims.
ROWS_PER_SKEW2 = 100.0


def _z(confidence: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(confidence))


def exact_upper(right: int, n: int, confidence: float) -> float:
    """The one-sided upper Clopper-Pearson bound of a proportion ``right / n``: never
    below the true proportion more often than ``1 - confidence``."""
    from scipy.special import betaincinv  # the beta quantile, without scipy.stats' checks

    if right >= n:
        return 1.0
    return float(betaincinv(right + 1, n - right, confidence))


def sign_gain_upper(*, better: int, worse: int, rows: int, confidence: float) -> float:
    """An upper bound of a classifier's mean gain in accuracy over its baseline on
    ``rows`` rows, where it alone is right on ``better`` and the baseline alone on
    ``worse``: the exact bound of the share ``better / (better + worse)``, as a gain.
    It is below 0 exactly when the one-sided sign test (McNemar's) finds the
    classifier worse at ``1 - confidence``."""
    discordant = better + worse
    if discordant == 0:
        return 0.0
    share = exact_upper(better, discordant, confidence)
    return discordant / rows * (2 * share - 1)


def mean_bound(values: Any, confidence: float, *, upper: bool) -> tuple[float, float]:
    """The mean of ``values`` and its one-sided normal bound (upper or lower)."""
    import numpy as np

    mean = float(np.mean(values))
    spread = _z(confidence) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, mean + spread if upper else mean - spread


def spread(rows: int, confidence: float, skew: float | None) -> tuple[float, str]:
    """How many standard errors a one-sided bound of a mean of ``rows`` rows lies from
    it, and by which rule: the normal quantile when labels of skewness ``skew`` allow it
    for this many rows, else Cantelli's ``sqrt(c / (1 - c))`` (any distribution of
    finite variance)."""
    if skew is None or rows >= ROWS_PER_SKEW2 * skew * skew:
        return _z(confidence), "normal"
    return math.sqrt(confidence / (1 - confidence)), "cantelli"


def gain_upper(gains: Any, confidence: float, skew: float | None) -> tuple[float, float, str]:
    """The mean of a regressor's gains over its baseline (squared errors, per row), an
    upper bound of it (see :func:`spread`), and which bound."""
    import numpy as np

    n = len(gains)
    times, how = spread(n, confidence, skew)
    mean = float(np.mean(gains))
    return mean, mean + times * float(np.std(gains, ddof=1)) / math.sqrt(n), how


def exact_lower(right: int, n: int, confidence: float) -> float:
    """The one-sided lower Clopper-Pearson bound of a proportion ``right / n``."""
    from scipy.special import betaincinv

    if right <= 0:
        return 0.0
    return float(betaincinv(right, n - right + 1, 1 - confidence))


def accuracy_change_upper(
    right: int, n: int, deployed_right: int, deployed_n: int, confidence: float
) -> tuple[float, float]:
    """The change of accuracy since deployment (the window's less the evaluation's) and
    its one-sided upper bound: Newcombe's hybrid of the two sides' bounds, with exact
    (Clopper-Pearson) ones — the window's distance to its upper bound and the
    evaluation's to its lower one, added in quadrature. At 95% its false alarms stay
    under 4.8% for any accuracy, windows of 20 to 1,000 rows and evaluations of 50 to
    2,000 (Agresti and Caffo's normal bound reached 6.3% there)."""
    window, before = right / n, deployed_right / deployed_n
    up = exact_upper(right, n, confidence) - window
    down = before - exact_lower(deployed_right, deployed_n, confidence)
    return window - before, window - before + math.hypot(up, down)


def rmse_change_lower(
    squared: Any,
    deployed: float,
    deployed_error: float,
    deployed_rows: int,
    confidence: float,
    skew: float | None,
) -> tuple[float, float, str]:
    """The change of RMSE since deployment (the window's less the evaluation's
    ``deployed``, whose standard error is ``deployed_error``), its one-sided lower bound,
    and the evaluation's bound (see :func:`spread`). The window's standard error is the
    delta method's; its RMSE errs low when the labels are skewed, which makes the bound
    only safer, but the evaluation's errs low too, which does not: that side takes
    Cantelli's spread when the evaluation is too small for the labels' skewness."""
    import numpy as np

    n = len(squared)
    rmse = math.sqrt(float(np.mean(squared)))
    error = float(np.std(squared, ddof=1)) / math.sqrt(n) / (2 * rmse) if rmse > 0 else 0.0
    times, how = spread(deployed_rows, confidence, skew)
    change = rmse - deployed
    return change, change - math.hypot(_z(confidence) * error, times * deployed_error), how
