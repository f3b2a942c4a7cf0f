"""A loop's triggers, each judged on the records: whether it fires now, and the numbers
it was judged on (kept in the ``retrain`` decision whether it fired or not).

Decay is judged like a test, not on a point estimate: on the champion's labelled rows
of the last complete window, a rule fires only when the one-sided confidence bound of
the window's metric (at the rule's ``confidence``) lies on the bad side — Wilson's
bound for accuracy, the normal bound of the mean squared error for RMSE, and of the
mean paired gain over the naive baseline for ``baseline`` — so a small window of
honest noise does not start a retraining.

>>> wilson_upper(70, 100, 0.95) < 0.8 < wilson_upper(75, 100, 0.95)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from loopml.evaluation import PerformanceEstimator
    from loopml.monitor._loop import Decay, Drift


@dataclass(frozen=True)
class Firing:
    """One rule judged: ``rule`` as the definition names it (``new_labels``,
    ``decay.worse_than``), whether it ``fired``, and the numbers it was judged on."""

    rule: str
    fired: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "fired": self.fired, **self.evidence}


def judge_schedule(every: str, last_training: datetime, now: datetime) -> Firing:
    from loopml._cadence import parse_every

    age = (now - last_training).total_seconds()
    due = parse_every(every)
    return Firing("every", age >= due, {"every": every, "age_seconds": round(age, 3)})


def judge_new_labels(wanted: int, rows: pl.DataFrame, since_us: int) -> Firing:
    """Rows of the deployment's answers (shadows left out) labelled after ``since_us``."""
    import polars as pl

    new = rows.filter(~pl.col("shadow") & pl.col("label").is_not_null())
    count = new.filter(pl.col("labelled_us") > since_us).height
    return Firing("new_labels", count >= wanted, {"new_labels": count, "wanted": wanted})


def judge_decay(
    decay: Decay,
    window: pl.DataFrame,
    *,
    task: str,
    baseline: Any,
    deployed: float | None,
    bounds: tuple[int, int] | None,
    estimator: PerformanceEstimator | None = None,
) -> list[Firing]:
    """The decay rules on ``window``: the champion's rows of the last complete window
    (``bounds``: its start and end, in microseconds), judged on the labelled ones, or
    with ``decay.estimated`` on the estimate of ``estimator`` when too few are.
    ``deployed`` is the champion's metric in its evaluation before it went out."""
    import numpy as np

    if not decay.active:
        return []
    labelled = window.filter(window["label"].is_not_null())
    n = labelled.height
    shown: dict[str, Any] = {"rows": n, "window_us": list(bounds) if bounds else None}
    if n < max(decay.min_labelled, 2) and decay.estimated:
        return _judge_estimate(decay, window, estimator, deployed, shown)
    if n < max(decay.min_labelled, 2):
        note = {**shown, "note": f"fewer than {decay.min_labelled} labelled rows: not judged"}
        return [Firing(rule, False, note) for rule in _rules(decay)]
    predicted = labelled["predicted"].to_numpy()
    truth = labelled["label"].to_numpy()
    classifier = task == "classification"
    outcome = outcomes(predicted, truth, classifier)
    naive = None if baseline is None else outcomes(np.full(n, baseline), truth, classifier)
    if classifier:
        k = int(outcome.sum())
        metric, bad_bound = k / n, wilson_upper(k, n, decay.confidence)
        score, base_score = outcome, naive
    else:
        mean, low = _mean_bounds(outcome, decay.confidence, upper=False)
        metric, bad_bound = math.sqrt(mean), math.sqrt(max(low, 0.0))
        score, base_score = -outcome, (None if naive is None else -naive)
    name = "accuracy" if classifier else "rmse"
    shown.update({name: metric, f"{name}_bound": bad_bound, "confidence": decay.confidence})

    def worse(limit: float) -> bool:
        return bad_bound < limit if classifier else bad_bound > limit

    found: list[Firing] = []
    if decay.worse_than is not None:
        limit = decay.worse_than
        found.append(Firing("decay.worse_than", worse(limit), {**shown, "limit": limit}))
    if decay.baseline:
        if base_score is None:
            found.append(Firing("decay.baseline", False, {**shown, "note": "no baseline"}))
        else:
            gain = score - base_score
            mean_gain, high = _mean_bounds(np.asarray(gain), decay.confidence, upper=True)
            evidence = {**shown, "gain_over_baseline": mean_gain, "gain_bound": high}
            found.append(Firing("decay.baseline", high < 0, evidence))
    if decay.drop is not None:
        if deployed is None:
            note = {**shown, "note": "the champion has no evaluation to compare with"}
            found.append(Firing("decay.drop", False, note))
        else:
            limit = deployed - decay.drop if classifier else deployed + decay.drop
            evidence = {**shown, "deployed": deployed, "drop": decay.drop, "limit": limit}
            found.append(Firing("decay.drop", worse(limit), evidence))
    return found


def _judge_estimate(
    decay: Decay,
    window: pl.DataFrame,
    estimator: PerformanceEstimator | None,
    deployed: float | None,
    shown: dict[str, Any],
) -> list[Firing]:
    """``worse_than`` and ``drop`` on the window's accuracy estimated from confidence;
    ``baseline`` needs labels and is not judged."""
    import polars as pl

    from loopml.monitor._estimated import probabilities_of

    rules = _rules(decay)
    if estimator is None or "probabilities" not in window.columns:
        note = {**shown, "note": "too few labelled rows, and no estimator for the champion"}
        return [Firing(rule, False, note) for rule in rules]
    proba = probabilities_of(window.filter(pl.col("probabilities").is_not_null()), estimator)
    if len(proba) < max(decay.min_labelled, 2):
        note = {**shown, "note": f"fewer than {decay.min_labelled} rows with probabilities"}
        return [Firing(rule, False, note) for rule in rules]
    accuracy = next(e for e in estimator.estimate([proba]) if e.metric == "accuracy")
    z = NormalDist().inv_cdf(decay.confidence)
    bound = min(1.0, accuracy.value + z * accuracy.standard_error)
    shown = {
        **shown,
        "estimated_rows": accuracy.rows,
        "estimated_accuracy": accuracy.value,
        "accuracy_bound": bound,
        "confidence": decay.confidence,
        "source": "estimated from confidence",
    }
    found = []
    for rule in rules:
        if rule == "decay.worse_than" and decay.worse_than is not None:
            limit = decay.worse_than
            found.append(Firing(rule, bound < limit, {**shown, "limit": limit}))
        elif rule == "decay.drop" and decay.drop is not None and deployed is not None:
            limit = deployed - decay.drop
            evidence = {**shown, "deployed": deployed, "drop": decay.drop, "limit": limit}
            found.append(Firing(rule, bound < limit, evidence))
        else:
            why = "needs labels" if rule == "decay.baseline" else "no evaluation to compare with"
            found.append(Firing(rule, False, {**shown, "note": why}))
    return found


def outcomes(predicted: Any, truth: Any, classifier: bool) -> Any:
    """Each row's outcome, as the loop scores a model: 1.0 right and 0.0 wrong for a
    classifier, the squared error for a regressor."""
    if classifier:
        return (predicted == truth).astype(float)
    return (predicted.astype(float) - truth.astype(float)) ** 2


def wilson_upper(right: int, n: int, confidence: float) -> float:
    """The one-sided upper Wilson bound of a proportion ``right / n``."""
    from scipy.stats import norm

    z = float(norm.ppf(confidence))
    p = right / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def last_window(
    rows: pl.DataFrame, window: str | int, now_us: int
) -> tuple[pl.DataFrame, tuple[int, int] | None]:
    """The rows of the last complete window: of time (``"1d"``: the last whole day before
    ``now_us``, windows counted from the unix epoch), or the last ``window`` labelled
    rows (a number)."""
    import polars as pl

    if isinstance(window, int):
        labelled = rows.filter(pl.col("label").is_not_null()).sort("time_us")
        return labelled.tail(window), None
    from loopml._cadence import parse_every

    size = parse_every(window) * 1_000_000
    end = now_us // size * size
    start = end - size
    inside = rows.filter((pl.col("time_us") >= start) & (pl.col("time_us") < end))
    return inside, (start, end)


def _rules(decay: Decay) -> list[str]:
    named = [("decay.worse_than", decay.worse_than is not None), ("decay.baseline", decay.baseline)]
    named.append(("decay.drop", decay.drop is not None))
    return [rule for rule, given in named if given]


def _mean_bounds(values: Any, confidence: float, *, upper: bool) -> tuple[float, float]:
    """The mean of ``values`` and its one-sided normal bound (upper or lower)."""
    import numpy as np
    from scipy.stats import norm

    mean = float(np.mean(values))
    spread = float(norm.ppf(confidence)) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, mean + spread if upper else mean - spread


def judge_drift(drift: Drift, table: pl.DataFrame, champion: str) -> Firing:
    """The drift rule on ``table`` (of :func:`~loopml.monitor.drift_windows`): the
    champion's latest window with ``min_rows`` rows, its inputs against its training
    rows."""
    import polars as pl

    mine = table.filter(
        (pl.col("ref") == champion)
        & (pl.col("comparison") == "training")
        & (pl.col("kind") == "feature")
        & (pl.col("rows") >= drift.min_rows)
    )
    if mine.is_empty():
        note = f"no window of {drift.every} with {drift.min_rows} rows compared with training"
        return Firing("drift", False, {"note": note, "wanted": drift.share})
    latest = mine.filter(pl.col("window") == mine["window"].max())
    moved = latest.filter(pl.col("drifted"))
    share = moved.height / latest.height
    evidence = {
        "window_start_us": int(latest["window_start_us"][0]),
        "rows": int(latest["rows"][0]),
        "share": round(share, 4),
        "wanted": drift.share,
        "drifted": [
            {"column": row["column"], "statistic": row["statistic"], "summary": row["summary"]}
            for row in moved.iter_rows(named=True)
        ],
        "columns": latest.height,
    }
    return Firing("drift", share >= (drift.share or 1.0), evidence)
