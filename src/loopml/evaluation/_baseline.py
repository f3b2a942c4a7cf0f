"""Naive baselines: what a model must beat to be worth anything.

>>> from loopml.evaluation import baseline
>>> majority = baseline("classification", ["cat", "dog", "dog", "dog"])
>>> majority.description, majority.predict(2).tolist()
("majority class 'dog'", ['dog', 'dog'])
>>> majority.metrics(["dog", "cat"])
{'accuracy': 0.5, 'f1_macro': 0.333..., 'balanced_accuracy': 0.5}
>>> last = baseline("timeseries", [3.0, 5.0, 4.0, 6.0])
>>> last.predict(2).tolist(), last.predict_rolling([7.0, 8.0]).tolist()
([6.0, 6.0], [6.0, 7.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput
from loopml.evaluation._metrics import (
    Labels,
    Numbers,
    Vector,
    as_labels,
    as_numbers,
    classification_metrics,
    forecast_metrics,
    naive_scale,
    regression_metrics,
    row_count,
    unique_labels,
)
from loopml.evaluation._season import checked_season, detect_season

STRATEGIES = {
    "classification": ("majority", "prior"),
    "regression": ("mean", "median"),
    "timeseries": ("last", "seasonal"),
}
USER_GIVEN = "value"


@dataclass(frozen=True, eq=False)
class Baseline:
    """A naive baseline, made by :func:`baseline`.

    ``constant`` is what classification and regression baselines predict for every row;
    ``classes`` and ``class_prior`` are the training classes and their frequencies; a
    time series baseline keeps the last ``season`` (or 1) training values in
    ``last_values`` and the MASE scale of the training series in ``mase_scale``; a
    user-given baseline has only ``metric`` and ``value``.
    """

    task: str
    strategy: str
    description: str
    constant: Any = None
    classes: Labels | None = None
    class_prior: Numbers | None = None
    season: int | None = None
    last_values: Numbers | None = None
    mase_scale: float = 0.0
    metric: str | None = None
    value: float | None = None

    def __repr__(self) -> str:
        return f"<Baseline {self.task}: {self.description}>"

    def predict(self, n_or_X: Any) -> npt.NDArray[Any]:
        """Predictions for ``n`` rows, or for the rows of ``X``; for a time series, the
        next ``n`` values after ``y_train``."""
        rows = row_count(n_or_X)
        if self.last_values is not None:
            return self.last_values[np.arange(rows) % len(self.last_values)]
        if self.strategy == USER_GIVEN:
            raise InvalidInput(
                f"the baseline {self.description!r} is a number, not a predictor: it has no "
                "predictions; use .metrics() for its value"
            )
        if self.classes is not None:
            return np.full(rows, self.constant, dtype=self.classes.dtype)
        return np.full(rows, self.constant, dtype=np.float64)

    def predict_proba(self, n_or_X: Any) -> Numbers:
        """The training class frequencies for each row (columns in ``classes`` order)."""
        if self.class_prior is None:
            raise InvalidInput(
                f"predict_proba is for the 'prior' classification baseline; this one is "
                f"{self.task} {self.strategy!r}; make it with strategy='prior'"
            )
        return np.tile(self.class_prior, (row_count(n_or_X), 1))

    def predict_for(self, y_history: Vector, horizon: int) -> Numbers:
        """The next ``horizon`` values after ``y_history``, a series that ends where the
        forecasts start (a time series baseline's rule, applied to other data)."""
        recent = self._history(y_history)
        return recent[np.arange(row_count(horizon)) % len(recent)]

    def predict_rolling(self, y_true: Vector, *, y_history: Vector | None = None) -> Numbers:
        """One-step-ahead forecasts of each value of ``y_true``, each made from the actual
        values before it: ``y_history`` (by default ``y_train``) followed by ``y_true``."""
        recent = self._history(y_history)
        actual = as_numbers(y_true, "y_true")
        return np.concatenate([recent, actual])[: len(actual)]

    def _history(self, y_history: Vector | None) -> Numbers:
        if self.last_values is None:
            raise InvalidInput(
                f"forecasts from a history are for time series baselines; this one is "
                f"{self.task} {self.strategy!r}; use .predict(n)"
            )
        if y_history is None:
            return self.last_values
        history = as_numbers(y_history, "y_history")
        needed = len(self.last_values)
        if len(history) < needed:
            raise InvalidInput(
                f"y_history has {len(history)} values; the {self.description} baseline needs "
                f"at least {needed}"
            )
        return history[-needed:]

    def metrics(
        self,
        y_true: Vector | None = None,
        *,
        y_history: Vector | None = None,
        rolling: bool = False,
    ) -> dict[str, float]:
        """The task's metrics of this baseline on the evaluation rows ``y_true``.

        For a time series the forecasts are, by default, the next ``len(y_true)`` values
        after ``y_train`` (or after ``y_history``, when the evaluation data follows that
        instead); with ``rolling=True``, one-step-ahead forecasts (:meth:`predict_rolling`).
        A user-given baseline returns its one metric and needs no ``y_true``.
        """
        if (y_history is not None or rolling) and self.task != "timeseries":
            raise InvalidInput("y_history= and rolling= are for time series baselines")
        if self.metric is not None and self.value is not None:  # a user-given number
            return {self.metric: self.value}
        if y_true is None:
            raise InvalidInput(
                f"metrics of the {self.description} baseline need y_true, the evaluation "
                "rows a model is scored on"
            )
        if self.task == "classification":
            truth = as_labels(y_true, "y_true")
            proba = None if self.class_prior is None else self.predict_proba(len(truth))
            return classification_metrics(
                truth, self.predict(len(truth)), proba=proba, classes=self.classes
            )
        truth = as_numbers(y_true, "y_true")
        if self.task == "regression":
            return regression_metrics(truth, self.predict(len(truth)))
        if rolling:
            forecasts = self.predict_rolling(truth, y_history=y_history)
        else:
            forecasts = self.predict_for(y_history, len(truth))
        return forecast_metrics(truth, forecasts, scale=self.mase_scale)


def baseline(
    task: str,
    y_train: Vector | None,
    *,
    strategy: str | None = None,
    season: int | None = None,
    value: float | None = None,
    metric: str | None = None,
    description: str | None = None,
) -> Baseline:
    """The naive baseline of ``task`` ("classification", "regression" or "timeseries").

    Strategies: classification "majority" (default) or "prior"; regression "mean"
    (default) or "median"; time series "last" (default) or "seasonal" (with ``season``,
    or a season detected in ``y_train``; a ``season`` alone means "seasonal"). With
    ``value`` and ``metric``, a user-given number such as human accuracy (``y_train``
    may then be None). ``description`` replaces the one made up, e.g. "majority class 'b'".

    >>> baseline("regression", [1.0, 2.0, 6.0], strategy="median").predict(2).tolist()
    [2.0, 2.0]
    >>> baseline("classification", None, value=0.93, metric="accuracy").metrics()
    {'accuracy': 0.93}
    """
    if task not in STRATEGIES:
        raise InvalidInput(f"task={task!r} is unknown; use one of {', '.join(STRATEGIES)}")
    if value is not None or metric is not None:
        made = _user_given(task, strategy, season, value, metric)
    else:
        made = _predictor(task, y_train, _strategy(task, strategy, season), season)
    if description is not None:
        made = replace(made, description=description)
    return made


def _strategy(task: str, strategy: str | None, season: int | None) -> str:
    valid = STRATEGIES[task]
    if strategy is None:
        strategy = "seasonal" if task == "timeseries" and season is not None else valid[0]
    if strategy not in valid:
        raise InvalidInput(
            f"strategy={strategy!r} is unknown for {task}; use one of {', '.join(valid)}"
        )
    if season is not None and strategy != "seasonal":
        where = "time series" if task != "timeseries" else "strategy='seasonal'"
        raise InvalidInput(f"season={season!r} is for {where}; leave it out for {strategy!r}")
    return strategy


def _predictor(task: str, y_train: Vector | None, strategy: str, season: int | None) -> Baseline:
    if y_train is None:
        raise InvalidInput(f"y_train is None; the {strategy!r} baseline is computed from it")
    if task == "classification":
        classes, codes = unique_labels(as_labels(y_train, "y_train"), "y_train")
        counts = np.bincount(codes)
        majority = classes[np.argmax(counts)]  # ties go to the first class in sorted order
        prior = counts / counts.sum() if strategy == "prior" else None
        label = majority.item() if isinstance(majority, np.generic) else majority
        description = f"majority class '{label}'"
        if prior is not None:
            description = f"class prior over {len(classes)} classes, {description}"
        return Baseline(task, strategy, description, majority, classes, prior)
    series = as_numbers(y_train, "y_train")
    if task == "regression":
        center = float(np.mean(series) if strategy == "mean" else np.median(series))
        return Baseline(task, strategy, f"{strategy} {center:.6g}", constant=center)
    if len(series) < 2:
        raise InvalidInput(
            f"y_train has {len(series)} value; a time series baseline needs at least 2 "
            "(the MASE is scaled by the change between them)"
        )
    if strategy == "last":
        steps, description = 1, f"last value {series[-1]:.6g}"
    else:
        season = detect_season(series) if season is None else checked_season(season, len(series))
        steps, description = season, f"seasonal naive, season {season}"
    scale = naive_scale(series, steps)
    return Baseline(
        task, strategy, description, season=season, last_values=series[-steps:], mase_scale=scale
    )


def _user_given(
    task: str, strategy: str | None, season: int | None, value: float | None, metric: str | None
) -> Baseline:
    if value is None:
        raise InvalidInput(f"metric={metric!r} needs value=, the number the baseline scored")
    if not isinstance(metric, str) or not metric:
        raise InvalidInput(
            f"value={value!r} needs metric= naming what it measures, e.g. metric='accuracy' "
            "(the name the model's metric is logged under)"
        )
    if strategy not in (None, USER_GIVEN) or season is not None:
        raise InvalidInput(
            "a user-given value takes no strategy= or season=; pass either value= and "
            "metric=, or a strategy"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InvalidInput(f"value={value!r} must be a number, like 0.93")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"value={value!r} must be a finite number")
    return Baseline(
        task, USER_GIVEN, f"user-given {metric} {number:.6g}", metric=metric, value=number
    )


def log_baseline(
    baseline: Baseline,
    y_true: Vector | None = None,
    *,
    y_history: Vector | None = None,
    rolling: bool = False,
) -> dict[str, float]:
    """Log the baseline's :meth:`~Baseline.metrics` on ``y_true`` to the active run as
    ``baseline.<metric>``, and its description as the tag ``baseline``; returns the
    metrics (without the prefix), to compare with the model's on the same rows."""
    from loopml import tracking

    metrics = baseline.metrics(y_true, y_history=y_history, rolling=rolling)
    tracking.log_metrics({f"baseline.{key}": value for key, value in metrics.items()})
    tracking.set_tags(baseline=baseline.description)
    return metrics
