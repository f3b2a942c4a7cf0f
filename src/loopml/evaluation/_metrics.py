"""The metrics a baseline and a model are scored on, in plain NumPy.

Each function takes a list, a NumPy array, a pandas Series or a polars Series, refuses
missing values and lengths that differ, and gives the number scikit-learn gives.

>>> from loopml.evaluation._metrics import classification_metrics, regression_metrics
>>> classification_metrics(["a", "b", "b", "a"], ["a", "b", "a", "a"])
{'accuracy': 0.75, 'f1_macro': 0.733..., 'balanced_accuracy': 0.75}
>>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
{'mae': 0.333..., 'rmse': 0.577..., 'r2': 0.5}
"""

from __future__ import annotations

import math
import operator
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

Vector: TypeAlias = Any  # a list, a NumPy array, a pandas Series or a polars Series
Labels: TypeAlias = npt.NDArray[Any]
Numbers: TypeAlias = npt.NDArray[np.float64]


# -- turning what users pass into checked arrays ------------------------------------------


def as_labels(values: Vector, name: str) -> Labels:
    """A non-empty 1-D array with no missing value."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{name} must be a 1-D list, array or Series: {error}") from None
    if array.ndim != 1:
        raise InvalidInput(
            f"{name} must be 1-D (one value per row); got shape {array.shape}; pass the target "
            "column alone"
        )
    if len(array) == 0:
        raise InvalidInput(f"{name} is empty; pass at least one value")
    missing = np.flatnonzero(_missing(array))
    if len(missing):
        raise InvalidInput(
            f"{name} has a missing value (NaN or None) at position {missing[0]} "
            f"({len(missing)} in all); drop or fill those rows first"
        )
    return array


def as_numbers(values: Vector, name: str) -> Numbers:
    """A non-empty 1-D float array of finite numbers."""
    array = as_labels(values, name)
    try:
        numbers = array.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{name} must hold numbers; got {array[0]!r} ({array.dtype}); for labels use the "
            "'classification' task"
        ) from None
    infinite = np.flatnonzero(~np.isfinite(numbers))
    if len(infinite):
        raise InvalidInput(
            f"{name} has an infinite value at position {infinite[0]}; drop or clip it first"
        )
    return numbers


def row_count(n_or_X: Any) -> int:
    """The number of rows ``n_or_X`` stands for: itself if an int, else its length."""
    if isinstance(n_or_X, bool):
        raise InvalidInput(f"{n_or_X!r} is not a number of rows; pass an int or the rows X")
    try:
        rows = operator.index(n_or_X)
    except TypeError:
        try:
            rows = len(n_or_X)
        except TypeError:
            raise InvalidInput(
                f"{type(n_or_X).__name__} is neither a number of rows nor rows to predict for; "
                "pass an int or X (an array or data frame)"
            ) from None
    if rows < 0:
        raise InvalidInput(f"{rows} rows: the number of rows cannot be negative")
    return rows


def _missing(array: Labels) -> npt.NDArray[np.bool_]:
    if array.dtype.kind == "f":
        return np.isnan(array)
    if array.dtype.kind in "mM":
        return np.isnat(array)
    if array.dtype.kind == "O":
        return np.fromiter((_is_missing(v) for v in array), dtype=bool, count=len(array))
    return np.zeros(len(array), dtype=bool)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:  # pandas' NA has no truth value: it is the missing marker itself
        return True


def unique_labels(labels: Labels, name: str) -> tuple[Labels, npt.NDArray[np.intp]]:
    """The sorted distinct labels and each label's index among them."""
    try:
        distinct, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # labels that cannot be ordered, such as 1 and "a"
        kinds = sorted({type(label).__name__ for label in labels})
        raise InvalidInput(
            f"{name} mix label types ({', '.join(kinds)}); make every label one type"
        ) from None
    return distinct, codes


def _pair(y_true: Vector, y_pred: Vector, *, numeric: bool) -> tuple[Labels, Labels]:
    convert = as_numbers if numeric else as_labels
    truth, predicted = convert(y_true, "y_true"), convert(y_pred, "y_pred")
    if len(truth) != len(predicted):
        raise InvalidInput(
            f"y_true has {len(truth)} rows but the predictions have {len(predicted)}; score "
            "the predictions of the same rows"
        )
    return truth, predicted


# -- classification -----------------------------------------------------------------------


def accuracy(y_true: Vector, y_pred: Vector) -> float:
    """The share of rows predicted right."""
    truth, predicted = _pair(y_true, y_pred, numeric=False)
    return float(np.mean(truth == predicted))


def balanced_accuracy(y_true: Vector, y_pred: Vector) -> float:
    """The mean recall of the classes in ``y_true``."""
    right, support, _ = _per_class(*_pair(y_true, y_pred, numeric=False))
    present = support > 0
    return float(np.mean(right[present] / support[present]))


def f1_macro(y_true: Vector, y_pred: Vector) -> float:
    """The mean F1 over every class in ``y_true`` or ``y_pred``."""
    right, support, predicted = _per_class(*_pair(y_true, y_pred, numeric=False))
    return float(np.mean(2 * right / (support + predicted)))


def _per_class(
    truth: Labels, predicted: Labels
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per class of either: rows predicted right, rows that are it, rows predicted it."""
    _, codes = unique_labels(np.concatenate([truth, predicted]), "y_true and y_pred")
    true_codes, predicted_codes = codes[: len(truth)], codes[len(truth) :]
    classes = int(codes.max()) + 1
    right = np.bincount(true_codes[true_codes == predicted_codes], minlength=classes)
    support = np.bincount(true_codes, minlength=classes)
    return right, support, np.bincount(predicted_codes, minlength=classes)


def log_loss(y_true: Vector, proba: npt.ArrayLike, classes: Vector) -> float:
    """The mean negative log of the probability given to each row's true class.

    ``proba`` has one column per entry of ``classes``. Probabilities are clipped to
    ``[eps, 1 - eps]``, as scikit-learn does, so a class given probability 0 (or never
    seen in training) costs ``-log(eps)``, about 36, rather than infinity.
    """
    truth, known = as_labels(y_true, "y_true"), as_labels(classes, "classes")
    probabilities = np.asarray(proba, dtype=np.float64)
    if probabilities.shape != (len(truth), len(known)):
        raise InvalidInput(
            f"proba has shape {probabilities.shape}; it needs one row per value of y_true "
            f"and one column per class: ({len(truth)}, {len(known)})"
        )
    order = np.argsort(known)
    found = np.searchsorted(known, truth, sorter=order).clip(max=len(known) - 1)
    column = order[found]
    given = np.where(known[column] == truth, probabilities[np.arange(len(truth)), column], 0.0)
    eps = np.finfo(np.float64).eps
    return float(-np.mean(np.log(np.clip(given, eps, 1 - eps))))


def classification_metrics(
    y_true: Vector,
    y_pred: Vector,
    *,
    proba: npt.ArrayLike | None = None,
    classes: Vector | None = None,
) -> dict[str, float]:
    """Accuracy, macro F1 and balanced accuracy; log-loss too when ``proba`` (with the
    ``classes`` of its columns) is given."""
    metrics = {
        "accuracy": accuracy(y_true, y_pred),
        "f1_macro": f1_macro(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
    }
    if proba is not None:
        if classes is None:
            raise InvalidInput("proba needs classes= naming the class of each of its columns")
        metrics["log_loss"] = log_loss(y_true, proba, classes)
    return metrics


# -- regression and forecasts -------------------------------------------------------------


def mae(y_true: Vector, y_pred: Vector) -> float:
    """Mean absolute error."""
    truth, predicted = _pair(y_true, y_pred, numeric=True)
    return float(np.mean(np.abs(truth - predicted)))


def rmse(y_true: Vector, y_pred: Vector) -> float:
    """Root mean squared error."""
    truth, predicted = _pair(y_true, y_pred, numeric=True)
    return math.sqrt(float(np.mean((truth - predicted) ** 2)))


def r2(y_true: Vector, y_pred: Vector) -> float:
    """The coefficient of determination; as scikit-learn: 1.0 for a perfect fit of a
    constant ``y_true``, 0.0 for an imperfect one, NaN for fewer than 2 rows."""
    truth, predicted = _pair(y_true, y_pred, numeric=True)
    if len(truth) < 2:
        return math.nan
    residual = float(np.sum((truth - predicted) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1 - residual / total


def naive_scale(y_train: Vector, season: int = 1) -> float:
    """The MASE scale: the in-sample mean absolute error of the naive forecast of
    ``y_train`` (the value ``season`` steps before; 1 is the last value).

    >>> naive_scale([1.0, 2.0, 4.0, 7.0])
    2.0
    """
    series = as_numbers(y_train, "y_train")
    if season < 1 or len(series) <= season:
        raise InvalidInput(
            f"the MASE scale with season {season} needs more than {season} values of y_train; "
            f"got {len(series)}"
        )
    return float(np.mean(np.abs(series[season:] - series[:-season])))


def mase(y_true: Vector, y_pred: Vector, scale: float) -> float:
    """Mean absolute scaled error: the MAE over the :func:`naive_scale` of the training
    series; below 1 beats the in-sample naive forecast."""
    if not (math.isfinite(scale) and scale > 0):
        raise InvalidInput(
            f"scale={scale!r}: the MASE needs a positive scale; a training series that never "
            "changes has none"
        )
    return mae(y_true, y_pred) / scale


def regression_metrics(y_true: Vector, y_pred: Vector) -> dict[str, float]:
    """MAE, RMSE and R2."""
    return {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "r2": r2(y_true, y_pred)}


def forecast_metrics(y_true: Vector, y_pred: Vector, *, scale: float) -> dict[str, float]:
    """MAE, RMSE and MASE; the MASE is left out when ``scale`` is 0 (a training series
    that never changed leaves it undefined)."""
    metrics = {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred)}
    if scale > 0:
        metrics["mase"] = mase(y_true, y_pred, scale)
    return metrics
