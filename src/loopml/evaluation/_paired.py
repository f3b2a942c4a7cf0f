"""Two models' predictions of the same rows, compared row by row.

Accuracy is compared by McNemar's test: only the rows that one model gets right and
the other wrong say anything about which is better, and under "no difference" each
such row is as likely to go either way. Every other metric (ROC-AUC, log-loss, F1,
MAE, RMSE, R2...) is compared by the paired bootstrap: both models are scored on the
same resamples of the rows (:func:`._bootstrap.replicates`; the label metrics on a
joint draw of the three-way table of truth and both predictions), and the spread of
the difference over the resamples is its standard error. Comparing on the same rows
removes the rows' own difficulty from the comparison, which two separate intervals
do not: two models 0.90 and 0.87 accurate on 1,000 rows have intervals that overlap,
and yet one of them may be worse on 65 of the 100 rows where they disagree.

The p-values are one-sided and computed by the gate from these records, for the
margin or tolerance its policy asks (:func:`p_worse`, :func:`p_ahead`).

>>> import numpy as np
>>> from loopml.evaluation._predict import Predictions
>>> classes = np.array(["no", "yes"])
>>> y = np.array([0, 1] * 50)
>>> champion = Predictions("classification", y, y.copy(), classes)
>>> worse = y.copy(); worse[:12] = 1 - worse[:12]         # 12 rows now wrong
>>> found = compare(Predictions("classification", y, worse, classes), champion)
>>> found["accuracy"].worse, found["accuracy"].better, round(found["accuracy"].lead, 2)
(12, 0, -0.12)
>>> round(p_worse(found["accuracy"]), 5)     # 12 of 12 discordant rows go one way
0.00024
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation._bootstrap import RESAMPLES, SEED, labels_of, replicates
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import PairedMetric, higher_is_better
from loopml.evaluation._scores import scores

LEVEL = 0.95
# The label metrics' joint draw has classes**3 cells per resample; past this many
# classes only accuracy (McNemar) and the row-weighted metrics are compared.
MOST_CLASSES_JOINT = 20

Values = npt.NDArray[np.float64]


def aligned(a: Predictions, b: Predictions) -> tuple[Predictions, Predictions]:
    """The two classifications coded in one set of classes (their union)."""
    if a.task != "classification" or b.task != "classification":
        return a, b
    assert a.classes is not None
    assert b.classes is not None
    if np.array_equal(a.classes, b.classes):
        return a, b
    classes = np.union1d(a.classes, b.classes)
    return _recoded(a, classes), _recoded(b, classes)


def _recoded(p: Predictions, classes: npt.NDArray[Any]) -> Predictions:
    assert p.classes is not None
    where = np.searchsorted(classes, p.classes)
    proba = None
    if p.proba is not None:
        proba = np.zeros((p.rows, len(classes)))
        proba[:, where] = p.proba
    return Predictions(p.task, where[p.y], where[p.pred], classes, proba, p.scale)


def subset(p: Predictions, rows: npt.NDArray[np.intp]) -> Predictions:
    proba = None if p.proba is None else p.proba[rows]
    return Predictions(p.task, p.y[rows], p.pred[rows], p.classes, proba, p.scale)


def compare(
    a: Predictions,
    b: Predictions,
    only: Collection[str] | None = None,
    drawn_a: dict[str, Values] | None = None,
) -> dict[str, PairedMetric]:
    """Each metric of ``a`` against ``b`` (the same rows, in the same order, coded
    alike: see :func:`aligned`); with ``only``, those metrics alone. ``drawn_a``: the
    :func:`._bootstrap.replicates` of ``a``, when they were drawn already (for its
    intervals): the draws are the same, so only ``b``'s are drawn."""
    mine, theirs = scores(a), scores(b)
    wanted = [m for m in mine if m in theirs and (only is None or m in only)]
    found: dict[str, PairedMetric] = {}
    if a.task == "classification" and "accuracy" in wanted:
        found["accuracy"] = _mcnemar(a, b, mine["accuracy"], theirs["accuracy"])
    drawn_a, drawn_b = _replicates(a, b, wanted, drawn_a)
    for metric in wanted:
        if metric in found or metric not in drawn_a or metric not in drawn_b:
            continue
        paired = _bootstrapped(metric, a.rows, mine[metric], theirs[metric], drawn_a, drawn_b)
        if paired is not None:
            found[metric] = paired
    return found


def _mcnemar(a: Predictions, b: Predictions, value: float, other: float) -> PairedMetric:
    mine, theirs = a.pred == a.y, b.pred == b.y
    worse = int(np.sum(theirs & ~mine))
    better = int(np.sum(mine & ~theirs))
    rows = a.rows
    lead = (better - worse) / rows
    # The variance of a difference of paired proportions (e.g. Agresti, 10.1.1).
    variance = max((better + worse) / rows - lead**2, 0.0) / rows
    error = math.sqrt(variance)
    z = _z()
    return PairedMetric(
        "accuracy", "mcnemar", rows, value, other, lead, lead - z * error, lead + z * error,
        error, worse=worse, better=better,
    )  # fmt: skip


def _replicates(
    a: Predictions, b: Predictions, wanted: list[str], known: dict[str, Values] | None
) -> tuple[dict[str, Values], dict[str, Values]]:
    kernels = {"log_loss", "roc_auc", "ece", "mae", "rmse", "r2", "mase"}
    drawn_a: dict[str, Values] = {}
    drawn_b: dict[str, Values] = {}
    if any(metric in kernels for metric in wanted):
        if known is None:
            drawn_a, drawn_b = replicates(a, b)
        else:
            drawn_a, [drawn_b] = dict(known), replicates(b)
    labels = [m for m in wanted if m not in kernels and m != "accuracy"]
    if a.task == "classification" and labels and a.classes_count <= MOST_CLASSES_JOINT:
        k = a.classes_count
        cells = np.bincount((a.y * k + a.pred) * k + b.pred, minlength=k**3)
        rng = np.random.default_rng(SEED)
        joint = rng.multinomial(a.rows, cells / a.rows, size=RESAMPLES).reshape(-1, k, k, k)
        drawn_a.update(labels_of(a, joint.sum(axis=3).astype(np.float64)))
        drawn_b.update(labels_of(b, joint.sum(axis=2).astype(np.float64)))
    return drawn_a, drawn_b


def _bootstrapped(
    metric: str,
    rows: int,
    value: float,
    other: float,
    drawn_a: dict[str, Values],
    drawn_b: dict[str, Values],
) -> PairedMetric | None:
    sign = 1.0 if higher_is_better(metric) else -1.0
    leads = sign * (drawn_a[metric] - drawn_b[metric])
    leads = leads[np.isfinite(leads)]
    if len(leads) < RESAMPLES // 2:
        return None
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(leads, [tail, 100 - tail])
    error = float(np.std(leads, ddof=1))
    lead = sign * (value - other)
    return PairedMetric(
        metric, "bootstrap", rows, value, other, lead, float(low), float(high), error
    )


def _z() -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + LEVEL / 2))


def p_worse(paired: PairedMetric, allowed: float = 0.0) -> float:
    """The one-sided p-value of "the model is at most ``allowed`` worse than the other"
    (in the metric's units): small when the rows show it is worse by more.

    McNemar's exact test, generalised to a tolerance: of the ``n`` rows only one model
    gets right, a lead of ``-allowed`` means a share ``(1 + allowed * rows / n) / 2`` of
    them go against the model; the count going against it is tested against that share
    (one half, with no tolerance: McNemar's test). A bootstrapped metric: the normal
    tail of the lead, at its bootstrap standard error."""
    if paired.test == "mcnemar":
        return _binomial_tail(paired.worse, paired.worse + paired.better, allowed, paired.rows)
    return _normal_tail(-(paired.lead + allowed), paired.standard_error)


def p_ahead(paired: PairedMetric, margin: float = 0.0) -> float:
    """The one-sided p-value of "the model is at most ``margin`` better than the other":
    small when the rows show it is ahead by more than the margin."""
    if paired.test == "mcnemar":
        return _binomial_tail(paired.better, paired.worse + paired.better, margin, paired.rows)
    return _normal_tail(paired.lead - margin, paired.standard_error)


def _binomial_tail(count: int, discordant: int, allowed: float, rows: int) -> float:
    """P(at least ``count`` of the ``discordant`` rows go one way) when the share that
    goes that way is that of a difference of ``allowed`` in accuracy that way."""
    from scipy.stats import binomtest

    if discordant == 0:
        return 1.0
    share = (1 + allowed * rows / discordant) / 2
    if share >= 1:
        return 1.0
    if share <= 0:
        return 0.0 if count > 0 else 1.0
    return float(binomtest(count, discordant, share, alternative="greater").pvalue)


def _normal_tail(excess: float, error: float) -> float:
    """P(a normal of mean 0 and sd ``error`` is at least ``excess``)."""
    from scipy.stats import norm

    if not error > 0:
        return 0.0 if excess > 0 else 1.0
    return float(norm.sf(excess / error))


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise error
    ``alpha``: valid whatever the dependence between the tests (slices overlap)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected
