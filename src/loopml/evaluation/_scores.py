"""A task's metrics on all rows or on a subset of them.

Accuracy, macro F1, balanced accuracy, log-loss, MAE, RMSE, R2 and MASE are the
training metrics (:mod:`loopml.evaluation._metrics`); here are added per-class
precision, recall and F1 (``precision.<class>``...; a class never predicted has
precision 0 and one never true recall 0, as scikit-learn's ``zero_division=0``), ROC-AUC
(binary: of the second class; more classes: one-vs-rest, macro over the classes present
in ``y`` with rows of other classes too) and the confusion matrix. A metric that is
undefined on the rows (ROC-AUC with one class present, R2 of one row) is left out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation import _metrics as m
from loopml.evaluation._predict import Predictions

Rows = npt.NDArray[np.intp] | None  # positions of the rows to score; None for all


def scores(p: Predictions, rows: Rows = None, *, per_class: bool = True) -> dict[str, float]:
    """The task's metrics on ``rows``; per-class ones only with ``per_class``."""
    y = p.y if rows is None else p.y[rows]
    pred = p.pred if rows is None else p.pred[rows]
    if p.task == "classification":
        proba = p.proba if p.proba is None or rows is None else p.proba[rows]
        return _classification(p, y, pred, proba, per_class)
    found = {"mae": m.mae(y, pred), "rmse": m.rmse(y, pred)}
    if p.task == "regression":
        found["r2"] = m.r2(y, pred)
    elif p.scale > 0:
        found["mase"] = m.mase(y, pred, p.scale)
    return _defined(found)


def _classification(
    p: Predictions,
    y: npt.NDArray[np.intp],
    pred: npt.NDArray[np.intp],
    proba: npt.NDArray[np.float64] | None,
    per_class: bool,
) -> dict[str, float]:
    found = m.classification_metrics(y, pred)
    if proba is not None:
        found["log_loss"] = m.log_loss(y, proba, np.arange(p.classes_count))
        found["roc_auc"] = roc_auc(y, proba)
    if per_class:
        found.update(per_class_scores(p, y, pred))
    return _defined(found)


def per_class_scores(
    p: Predictions, y: npt.NDArray[np.intp], pred: npt.NDArray[np.intp]
) -> dict[str, float]:
    k = p.classes_count
    right = np.bincount(y[y == pred], minlength=k)
    support, predicted = np.bincount(y, minlength=k), np.bincount(pred, minlength=k)
    found: dict[str, float] = {}
    for code in np.flatnonzero(support + predicted):
        name = p.label_of(int(code))
        found[f"precision.{name}"] = _ratio(right[code], predicted[code])
        found[f"recall.{name}"] = _ratio(right[code], support[code])
        found[f"f1.{name}"] = _ratio(2 * right[code], support[code] + predicted[code])
    return found


def confusion(p: Predictions) -> dict[str, Any]:
    """Rows are the true classes, columns the predicted ones, both in ``classes`` order."""
    k = p.classes_count
    matrix = np.bincount(p.y * k + p.pred, minlength=k * k).reshape(k, k)
    return {"classes": [p.label_of(i) for i in range(k)], "matrix": matrix.tolist()}


def roc_auc(y: npt.NDArray[np.intp], proba: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve, by the Mann-Whitney rank sum (ties count half)."""
    if proba.shape[1] == 2:
        return binary_auc(y == 1, proba[:, 1])
    areas = [binary_auc(y == c, proba[:, c]) for c in range(proba.shape[1])]
    defined = [area for area in areas if not math.isnan(area)]
    return float(np.mean(defined)) if defined else math.nan


def binary_auc(positive: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]) -> float:
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ratio(top: float, bottom: float) -> float:
    return float(top / bottom) if bottom else 0.0


def _defined(found: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in found.items() if math.isfinite(value)}
