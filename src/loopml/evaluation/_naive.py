"""The naive baseline scored on the evaluation rows, next to the model.

Made by :func:`loopml.training.baseline` from the training labels when ``train=`` is
given (every table of it, in the order given), else from the evaluation labels
themselves, which flatters the baseline a little (it knows the rows' class shares or
mean): the description says which.

- classification: the class prior (the majority class as the label, the class shares
  as probabilities, so it has a log-loss); its ROC-AUC is 0.5, since a constant score
  ranks no row above another.
- regression: the mean.
- time series: the naive one-step forecast, each row forecast by the actual value
  before it (the last training value for the first row; without ``train=``, the first
  row by itself). The MASE scale is the in-sample naive error of the training series,
  or of the evaluation series without ``train=``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation._baseline import Baseline, baseline
from loopml.evaluation._predict import Predictions, coded


@dataclass(frozen=True)
class Naive:
    metrics: dict[str, float]
    description: str
    scale: float = 0.0  # the MASE scale, for time series
    made: Baseline | None = None
    history: npt.NDArray[Any] | None = None  # a time series' history, when not y_train

    def predictions(self, y: npt.NDArray[Any], p: Predictions) -> Predictions | None:
        """Its predictions of the evaluation rows, coded as the model's ``p`` are, for
        comparing the two row by row; None when it has none."""
        made = self.made
        if made is None:
            return None
        if p.task == "classification":
            if made.classes is None or made.class_prior is None:
                return None
            rows = len(y)
            return coded(
                y, made.predict(rows), "the baseline", made.classes, made.predict_proba(rows)
            )
        if p.task == "regression":
            return Predictions(p.task, p.y, made.predict(len(y)).astype(np.float64))
        forecasts = made.predict_rolling(p.y, y_history=self.history)
        return Predictions(p.task, p.y, forecasts, scale=self.scale)


def naive(task: str, y: npt.NDArray[Any], y_train: npt.NDArray[Any] | None) -> Naive:
    source = "the training labels" if y_train is not None else "the evaluation labels"
    fit_on = y if y_train is None else y_train
    if task == "classification":
        base = baseline(task, fit_on, strategy="prior")
        found = {**base.metrics(y), "roc_auc": 0.5}
        return Naive(_finite(found), f"{base.description}, from {source}", made=base)
    if task == "regression":
        base = baseline(task, fit_on)
        return Naive(_finite(base.metrics(y)), f"{base.description}, from {source}", made=base)
    base = baseline(task, fit_on)
    history = None if y_train is not None else y[:1]
    found = base.metrics(y, y_history=history, rolling=True)
    description = (
        f"naive one-step forecast (the actual value before each row), MASE scale from {source}"
    )
    return Naive(_finite(found), description, base.mase_scale, made=base, history=history)


def concatenated(labels: list[npt.NDArray[Any]]) -> npt.NDArray[Any] | None:
    return np.concatenate(labels) if labels else None


def _finite(found: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in found.items() if math.isfinite(value)}
