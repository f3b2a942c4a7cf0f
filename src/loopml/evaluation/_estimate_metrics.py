"""The metrics a window's labels will give, expected from calibrated probabilities,
with their standard errors; every window at once (sums by window are ``bincount``).

If the calibrated probability ``q`` of each row is right, the row's label is a draw of
its class from ``q``, independent of the other rows. The model's prediction (the class
of its highest probability) is known, so each metric is a function of those draws:

- accuracy: the mean of ``c``, the calibrated probability of the predicted class, with
  variance ``sum c (1 - c) / rows**2`` (both exact);
- for two classes, with ``q`` the positive class's and ``v = q (1 - q)``: the expected
  confusion matrix (true positives ``sum q`` over rows predicted positive, and so on);
  precision is exact (its denominator, the rows predicted positive, is known), recall
  and F1 are ratios of expectations, their variances by the delta method;
- ROC-AUC: the share of (positive, negative) pairs the model's score puts in order,
  ties counting half, each pair weighted by the chance it is such a pair
  (``q_i (1 - q_j)``); its variance by the delta method, each row's effect being the
  expected negatives ranked below it less the expected positives ranked above it.

The delta method drops terms of relative order ``1 / rows``: the errors are sound for
windows of a hundred rows or more. An undefined metric (precision of a window where
nothing is predicted positive) is NaN.

>>> import numpy as np
>>> q = np.array([0.9, 0.8, 0.3, 0.1])
>>> found = expected(np.column_stack([1 - q, q]), np.column_stack([1 - q, q]),
...                  np.zeros(4, dtype=np.intp), 1, positive=1)
>>> {name: round(float(values[0]), 3) for name, (values, _) in found.items()}
{'accuracy': 0.825, 'precision': 0.85, 'recall': 0.81, 'f1': 0.829, 'roc_auc': 0.922}
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Values = npt.NDArray[np.float64]
BINARY = ("accuracy", "precision", "recall", "f1", "roc_auc")
MULTICLASS = ("accuracy",)


def expected(
    calibrated: Values,
    raw: Values,
    window: npt.NDArray[np.intp],
    windows: int,
    *,
    positive: int | None,
) -> dict[str, tuple[Values, Values]]:
    """Each metric's expected value and standard error, one per window."""
    predicted = raw.argmax(axis=1)
    right = calibrated[np.arange(len(raw)), predicted]

    def total(weights: Values) -> Values:
        return np.asarray(np.bincount(window, weights=weights, minlength=windows), np.float64)

    rows = np.bincount(window, minlength=windows).astype(np.float64)
    found = {
        "accuracy": (total(right) / rows, np.sqrt(total(right * (1 - right))) / rows),
    }
    if positive is None:
        return found
    q = calibrated[:, positive]
    flagged = (predicted == positive).astype(np.float64)
    spread = q * (1 - q)
    with np.errstate(divide="ignore", invalid="ignore"):
        hits, flags, positives = total(q * flagged), total(flagged), total(q)
        recall = hits / positives
        f1 = 2 * hits / (flags + positives)
        found["precision"] = (hits / flags, np.sqrt(total(spread * flagged)) / flags)
        found["recall"] = (
            recall,
            np.sqrt(total(spread * (flagged - recall[window]) ** 2)) / positives,
        )
        found["f1"] = (
            f1,
            np.sqrt(total(spread * (2 * flagged - f1[window]) ** 2)) / (flags + positives),
        )
        found["roc_auc"] = _roc_auc(q, raw[:, positive], window, windows)
    return found


def _roc_auc(
    q: Values, score: Values, window: npt.NDArray[np.intp], windows: int
) -> tuple[Values, Values]:
    order = np.lexsort((score, window))  # by window, then score
    w, s, p = window[order], score[order], q[order]
    n = 1 - p
    # a group: the rows of one window with one score (a tie counts half each way)
    new = np.r_[True, (w[1:] != w[:-1]) | (s[1:] != s[:-1])]
    group = np.cumsum(new) - 1
    group_window = w[new]
    positives_of, negatives_of = np.bincount(group, weights=p), np.bincount(group, weights=n)
    window_positives = np.bincount(w, weights=p, minlength=windows)
    window_negatives = np.bincount(w, weights=n, minlength=windows)
    before_positives = np.cumsum(window_positives) - window_positives
    before_negatives = np.cumsum(window_negatives) - window_negatives
    negatives_below = np.cumsum(negatives_of) - negatives_of - before_negatives[group_window]
    positives_above = (
        before_positives[group_window] + window_positives[group_window] - np.cumsum(positives_of)
    )
    # per row, the other rows only: its own share of its tie group is taken out
    below = negatives_below[group] + (negatives_of[group] - n) / 2
    above = positives_above[group] + (positives_of[group] - p) / 2
    pairs = window_positives * window_negatives - np.bincount(w, weights=p * n, minlength=windows)
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.bincount(w, weights=p * below, minlength=windows) / pairs
        # the change of the pair count when a row's label moves
        pairs_slope = (window_negatives[w] - n) - (window_positives[w] - p)
        effect = (below - above) - area[w] * pairs_slope
        error = np.sqrt(np.bincount(w, weights=p * n * effect**2, minlength=windows)) / pairs
    undefined = ~(pairs > 0)
    return np.where(undefined, np.nan, area), np.where(undefined, np.nan, error)
