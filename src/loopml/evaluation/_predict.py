"""The task, and the model's predictions on the evaluation rows as plain arrays (the
model called through its :class:`~loopml.models.Predictor`).

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

if TYPE_CHECKING:
    from loopml.models import Predictor

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


def resolve_task(task: str | None, info: Predictor) -> str:
    kind = info.kind
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


ROWS = "the evaluation rows"  # how errors name the rows predicted on


def predictions(
    task: str, info: Predictor, X: Any, y: npt.NDArray[Any], *, scale: float = 0.0
) -> Predictions:
    raw = info.labels(X, len(y), on=ROWS)
    if task != "classification":
        return Predictions(task, _numbers(y, "the label"), _numbers(raw, info.label), scale=scale)
    if raw.dtype.kind == "f" and not np.all(np.isnan(raw) | (raw == np.round(raw))):
        raise InvalidInput(
            f"task='classification' but {info.label} predicts continuous values (e.g. "
            f"{raw[0]!r}); use task='regression', or evaluate a classifier"
        )
    known = info.classes
    given = None if known is None else info.probabilities(X, len(y), on=ROWS)
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
