"""A loop's triggers, each judged on the records: whether it fires now, and the numbers
it was judged on (kept in the ``retrain`` decision whether it fired or not).

Decay is judged like a test, not on a point estimate: on the champion's labelled rows
of the last complete window, a rule fires only when the one-sided confidence bound
(at the rule's ``confidence``) lies on the bad side — of the window's accuracy or RMSE
(``worse_than``), of its gain over the naive baseline on the same rows (``baseline``),
of its change since the evaluation it was deployed on (``drop``) — so a small window
of honest noise does not start a retraining. The bounds, and why each, are in
:mod:`loopml.monitor._decay_bounds`.

>>> import polars as pl
>>> from loopml.monitor._loop import Decay
>>> window = pl.DataFrame({"predicted": [1] * 100, "label": [1] * 70 + [0] * 30})
>>> [f.fired for f in judge_decay(Decay(worse_than=0.8, min_labelled=50), window,
...     task="classification", baseline=0, deployed=None, bounds=None)]
[True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from loopml.monitor._decay_bounds import (
    accuracy_change_upper,
    exact_upper,
    gain_upper,
    mean_bound,
    rmse_change_lower,
    sign_gain_upper,
)

if TYPE_CHECKING:
    import polars as pl

    from loopml.evaluation import Evaluation, PerformanceEstimator
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


@dataclass(frozen=True)
class Deployed:
    """The champion's metric in the evaluation it was deployed on: ``value`` (accuracy,
    or RMSE) on ``rows`` rows, and for RMSE its standard error ``error`` (from the
    evaluation's bootstrap interval; None when it has none)."""

    value: float
    rows: int
    error: float | None = None

    @classmethod
    def of(cls, evaluation: Evaluation, task: str) -> Deployed | None:
        """The metric the loop judges ``task`` by, from ``evaluation``; None when it
        has none. The standard error is its bootstrap interval's half-width over z."""
        from scipy.stats import norm

        name = "accuracy" if task == "classification" else "rmse"
        value = evaluation.metrics.get(name)
        if value is None:
            return None
        interval = evaluation.intervals.get(name)
        error = None
        if interval is not None:
            error = (interval.high - interval.low) / (2 * float(norm.ppf(0.5 + interval.level / 2)))
        return cls(float(value), evaluation.rows, error)


def judge_decay(
    decay: Decay,
    window: pl.DataFrame,
    *,
    task: str,
    baseline: Any,
    deployed: Deployed | None,
    bounds: tuple[int, int] | None,
    skew: float | None = None,
    estimator: PerformanceEstimator | None = None,
    since_us: int | None = None,
) -> list[Firing]:
    """The decay rules on ``window``: the champion's rows of the last complete window
    (``bounds``: its start and end, in microseconds), judged on the labelled ones, or
    with ``decay.estimated`` on the estimate of ``estimator`` when too few are.
    ``deployed`` is the champion's metric in its evaluation before it went out; ``skew``
    the skewness of a regressor's training labels (how many rows its bounds of a mean
    need); ``since_us`` when the rows of ``window`` begin (the champion's last
    training: rows before it were judged then), for the note on too few rows."""
    import numpy as np

    if not decay.active:
        return []
    has_label = window["label"].is_not_null()
    n = int(has_label.sum())
    shown: dict[str, Any] = {"rows": n, "window_us": list(bounds) if bounds else None}
    if n < max(decay.min_labelled, 2) and decay.estimated:
        return _judge_estimate(decay, window, estimator, deployed, shown)
    if n < max(decay.min_labelled, 2):
        where = _window_words(bounds, since_us)
        note = {
            **shown,
            "note": f"fewer than {decay.min_labelled} labelled rows{where}: not judged",
        }
        return [Firing(rule, False, note) for rule in _rules(decay)]
    predicted = window["predicted"].filter(has_label).to_numpy()
    truth = window["label"].filter(has_label).to_numpy()
    classifier = task == "classification"
    outcome = outcomes(predicted, truth, classifier)
    confidence = decay.confidence
    if classifier:
        right = int(outcome.sum())
        metric, bad_bound = right / n, exact_upper(right, n, confidence)
    else:
        mean, low = mean_bound(outcome, confidence, upper=False)
        metric, bad_bound = math.sqrt(mean), math.sqrt(max(low, 0.0))
    name = "accuracy" if classifier else "rmse"
    shown.update({name: metric, f"{name}_bound": bad_bound, "confidence": confidence})

    def worse(limit: float) -> bool:
        return bad_bound < limit if classifier else bad_bound > limit

    found: list[Firing] = []
    if decay.worse_than is not None:
        limit = decay.worse_than
        found.append(Firing("decay.worse_than", worse(limit), {**shown, "limit": limit}))
    if decay.baseline:
        if baseline is None:
            found.append(Firing("decay.baseline", False, {**shown, "note": "no baseline"}))
        else:
            naive = outcomes(np.full(n, baseline), truth, classifier)
            found.append(_against_baseline(outcome, naive, classifier, confidence, skew, shown))
    if decay.drop is not None:
        found.append(
            _since_deployed(decay.drop, deployed, outcome, classifier, confidence, skew, shown)
        )
    return found


def _judge_estimate(
    decay: Decay,
    window: pl.DataFrame,
    estimator: PerformanceEstimator | None,
    deployed: Deployed | None,
    shown: dict[str, Any],
) -> list[Firing]:
    """``worse_than`` and ``drop`` on the window's accuracy estimated from confidence
    (its standard error, and for ``drop`` the evaluation's own, taken as normal);
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
            before = deployed.value
            spread = math.sqrt(accuracy.standard_error**2 + before * (1 - before) / deployed.rows)
            high = accuracy.value - before + z * spread
            evidence = {**shown, "deployed": before, "deployed_rows": deployed.rows}
            evidence.update(drop=decay.drop, change=accuracy.value - before, change_bound=high)
            found.append(Firing(rule, high < -decay.drop, evidence))
        else:
            why = "needs labels" if rule == "decay.baseline" else "no evaluation to compare with"
            found.append(Firing(rule, False, {**shown, "note": why}))
    return found


def _against_baseline(
    outcome: Any,
    naive: Any,
    classifier: bool,
    confidence: float,
    skew: float | None,
    shown: dict[str, Any],
) -> Firing:
    n = len(outcome)
    if classifier:
        better, worse = (
            int(((outcome > 0) & (naive == 0)).sum()),
            int(((outcome == 0) & (naive > 0)).sum()),
        )
        high = sign_gain_upper(better=better, worse=worse, rows=n, confidence=confidence)
        gain = (better - worse) / n
        how: dict[str, Any] = {"only_model_right": better, "only_baseline_right": worse}
    else:
        gain, high, method = gain_upper(naive - outcome, confidence, skew)
        how = {"bound": method, "label_skewness": skew}
    evidence = {**shown, "gain_over_baseline": gain, "gain_bound": high, **how}
    return Firing("decay.baseline", high < 0, evidence)


def _since_deployed(
    drop: float,
    deployed: Deployed | None,
    outcome: Any,
    classifier: bool,
    confidence: float,
    skew: float | None,
    shown: dict[str, Any],
) -> Firing:
    if deployed is None:
        note = {**shown, "note": "the champion has no evaluation to compare with"}
        return Firing("decay.drop", False, note)
    evidence = {**shown, "deployed": deployed.value, "deployed_rows": deployed.rows, "drop": drop}
    if classifier:
        right = int(outcome.sum())
        before = round(deployed.value * deployed.rows)
        change, high = accuracy_change_upper(right, len(outcome), before, deployed.rows, confidence)
        evidence.update(change=change, change_bound=high, limit=deployed.value - drop)
        return Firing("decay.drop", high < -drop, evidence)
    if deployed.error is None:
        evidence["note"] = "the evaluation has no interval of its RMSE: taken as exact"
    change, low, how = rmse_change_lower(
        outcome, deployed.value, deployed.error or 0.0, deployed.rows, confidence, skew
    )
    evidence.update(change=change, change_bound=low, limit=deployed.value + drop)
    evidence.update(deployed_bound=how, label_skewness=skew)
    return Firing("decay.drop", low > drop, evidence)


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


def _window_words(bounds: tuple[int, int] | None, since_us: int | None) -> str:
    """Which rows a decay rule read, in words: `` in the window 2026-12-07 00:00 to
    2026-12-08 00:00 UTC, after the last training (2026-12-07 09:12)``."""
    from loopml._time import from_us

    def when(us: int) -> str:
        return from_us(us).strftime("%Y-%m-%d %H:%M")

    words = ""
    if bounds is not None:
        words += f" in the window {when(bounds[0])} to {when(bounds[1])} UTC"
    if since_us is not None and (bounds is None or since_us > bounds[0]):
        words += f"{',' if words else ''} after the last training ({when(since_us)} UTC)"
    return words


def _rules(decay: Decay) -> list[str]:
    named = [("decay.worse_than", decay.worse_than is not None), ("decay.baseline", decay.baseline)]
    named.append(("decay.drop", decay.drop is not None))
    return [rule for rule, given in named if given]


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
