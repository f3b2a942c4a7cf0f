"""The task, and the model's predictions on the evaluation rows as plain arrays.

Classification labels are coded once, as positions in the sorted ``classes`` (every
label seen in the data, the predictions and the model's ``classes_``), so every later
step (metrics, slices, bootstrap, calibration) works on small integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput
from loopml.evaluation._metrics import as_labels, as_numbers, unique_labels
from loopml.models._base import first_line

if TYPE_CHECKING:
    from loopml.evaluation._inputs import ModelInfo

TASKS = ("classification", "regression", "timeseries")


@dataclass(frozen=True)
class Predictions:
    """One row per evaluation row. For classification ``y`` and ``pred`` are codes
    into ``classes`` and ``proba`` (when the model has ``predict_proba``) has one column
    per class; otherwise they are floats. ``scale`` is the MASE scale (time series)."""

    task: str
    y: npt.NDArray[Any]
    pred: npt.NDArray[Any]
    classes: npt.NDArray[Any] | None = None
    proba: npt.NDArray[np.float64] | None = None
    scale: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def classes_count(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    def label_of(self, code: int) -> str:
        assert self.classes is not None
        value = self.classes[code]
        return str(value.item() if isinstance(value, np.generic) else value)


def model_kind(model: Any) -> str | None:
    """ "classifier", "regressor", or None when the model does not say."""
    tags = getattr(model, "__sklearn_tags__", None)
    if callable(tags):
        try:
            kind = tags().estimator_type
        except Exception:  # a half-built or foreign estimator: fall back on attributes
            kind = None
        if kind in ("classifier", "regressor"):
            return str(kind)
    if hasattr(model, "classes_") or callable(getattr(model, "predict_proba", None)):
        return "classifier"
    return None


def resolve_task(task: str | None, info: ModelInfo) -> str:
    kind = model_kind(info.model)
    if task is None:
        return "classification" if kind == "classifier" else "regression"
    if task not in TASKS:
        raise InvalidInput(f"task={task!r} is unknown; use one of {', '.join(TASKS)}", field="task")
    if task == "classification" and kind == "regressor":
        raise InvalidInput(
            f"task='classification' but {info.label} is a regressor; use task='regression' "
            "(or 'timeseries'), or evaluate a classifier",
            field="task",
        )
    if task != "classification" and kind == "classifier":
        raise InvalidInput(
            f"task={task!r} but {info.label} is a classifier; use task='classification', or "
            "evaluate a regressor",
            field="task",
        )
    return task


def predict(model: Any, X: Any, rows: int, what: str) -> npt.NDArray[Any]:
    """``model.predict(X)`` as a 1-D array of ``rows`` values."""
    try:
        out = model.predict(X)
    except Exception as error:
        raise InvalidInput(
            f"{what}.predict failed on the evaluation rows ({type(error).__name__}: "
            f"{first_line(error)}); check that the data has the columns and types it was "
            "trained on"
        ) from error
    array = np.asarray(out)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (rows,):
        raise InvalidInput(
            f"{what}.predict returned shape {array.shape} for {rows} rows; evaluate needs one "
            "prediction per row"
        )
    return array


def predictions(
    task: str, info: ModelInfo, X: Any, y: npt.NDArray[Any], *, scale: float = 0.0
) -> Predictions:
    raw = predict(info.model, X, len(y), info.label)
    if task != "classification":
        return Predictions(task, _numbers(y, "the label"), _numbers(raw, info.label), scale=scale)
    if raw.dtype.kind == "f" and not np.all(np.isnan(raw) | (raw == np.round(raw))):
        raise InvalidInput(
            f"task='classification' but {info.label} predicts continuous values (e.g. "
            f"{raw[0]!r}); use task='regression', or evaluate a classifier"
        )
    known = _model_classes(info)
    given = _proba(info, X, known, len(y))
    return coded(y, raw, info.label, known, given)


def coded(
    y: npt.NDArray[Any],
    raw: npt.NDArray[Any],
    what: str,
    known: npt.NDArray[Any] | None = None,
    proba: npt.NDArray[np.float64] | None = None,
) -> Predictions:
    """Classification predictions coded as positions in their classes: every label of
    ``y``, of ``raw`` and of ``known`` (the model's classes, the columns of ``proba``)."""
    truth = as_labels(y, "the label column")
    predicted = as_labels(raw, f"the predictions of {what}")
    parts = [truth, predicted] if known is None else [truth, predicted, known]
    classes, codes = unique_labels(np.concatenate(parts), "the labels and predictions")
    placed = None
    if proba is not None and known is not None:
        placed = np.zeros((len(truth), len(classes)))
        placed[:, np.searchsorted(classes, known)] = proba
    rows = len(truth)
    return Predictions("classification", codes[:rows], codes[rows : 2 * rows], classes, placed)


def _numbers(values: npt.NDArray[Any], what: str) -> npt.NDArray[np.float64]:
    try:
        return as_numbers(values, what)
    except InvalidInput as error:
        raise InvalidInput(
            f"{error} (the task is regression: are the labels classes? then use "
            "task='classification')"
        ) from None


def _model_classes(info: ModelInfo) -> npt.NDArray[Any] | None:
    found = getattr(info.model, "classes_", None)
    if found is None and info.signature is not None and info.signature.output is not None:
        found = info.signature.output.classes
    return None if found is None else np.asarray(found)


def _proba(
    info: ModelInfo, X: Any, known: npt.NDArray[Any] | None, rows: int
) -> npt.NDArray[np.float64] | None:
    """``predict_proba``, its columns in the order of ``known`` (the model's classes)."""
    method = getattr(info.model, "predict_proba", None)
    if known is None or not callable(method):
        return None
    try:
        given = np.asarray(method(X), dtype=np.float64)
    except Exception as error:
        raise InvalidInput(
            f"{info.label}.predict_proba failed on the evaluation rows ({type(error).__name__}:"
            f" {first_line(error)})"
        ) from error
    if given.shape != (rows, len(known)):
        raise InvalidInput(
            f"{info.label}.predict_proba returned shape {given.shape}; expected one column per "
            f"class of classes_ ({rows}, {len(known)})"
        )
    return given
