"""Estimating a classifier's performance on windows of live traffic before their labels
come, from its confidence alone (confidence-based performance estimation).

Fitted on a labelled reference — the model's probabilities on held-out rows and their
true labels — the estimator learns how often the model is right at each confidence
(see ``_estimate_calibrate``: sigmoid or isotonic maps, or none, chosen by their
cross-fitted Brier score). On a window of unlabelled probabilities it gives the metrics
the labels should give (see ``_estimate_metrics``) with their sampling errors.

It assumes the labels follow the features as in the reference: a window whose inputs
shift (more rows of a kind the model is unsure of) gets a lower estimate, but a change
in what the label is for the same inputs (concept drift) is invisible to it; the
realised metric, once the labels come, then falls outside the interval.

>>> import numpy as np
>>> from loopml.evaluation import PerformanceEstimator
>>> rng = np.random.default_rng(0)
>>> def rows(n, low, high):
...     p = rng.uniform(low, high, n)  # the model's probability of "yes"
...     truth = np.where(rng.uniform(size=n) < p, "yes", "no")
...     return np.column_stack([1 - p, p]), truth
>>> proba, labels = rows(5000, 0, 1)
>>> estimator = PerformanceEstimator().fit(proba, labels, classes=["no", "yes"])
>>> estimator.method_, estimator.positive_
('none', 'yes')
>>> window, truth = rows(2000, 0.5, 0.8)  # a shift to rows the model is less sure of
>>> accuracy = estimator.estimate([window])[0]
>>> accuracy.metric, round(accuracy.value, 2), accuracy.rows
('accuracy', 0.65, 2000)
>>> accuracy.low < estimator.realised([window], [truth])[0].value < accuracy.high
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.evaluation._estimate_calibrate import (
    CHOICES,
    Calibration,
    check_reference,
    cross_fit,
    fit,
)
from loopml.evaluation._estimate_inputs import (
    Probabilities,
    checked_classes,
    checked_proba,
    label_codes,
    python_value,
    windows_of,
)
from loopml.evaluation._estimate_metrics import BINARY, MULTICLASS, expected
from loopml.evaluation._records import Estimate


class PerformanceEstimator:
    """Estimates accuracy (and for two classes precision, recall, F1 and ROC-AUC of the
    positive class) of unlabelled windows from a classifier's probabilities.

    ``calibration``: ``"auto"`` (the one of ``"none"``, ``"sigmoid"`` and
    ``"isotonic"`` with the lowest cross-fitted Brier score on the reference) or one of
    those; ``folds``: how many folds calibration is cross-fitted on; ``level``: the
    coverage of each estimate's interval; ``seed``: the folds' shuffle.

    Fitted state: ``classes_`` (one per probability column), ``positive_`` (the
    positive class for two, else None), ``method_``, ``calibration_`` and
    ``reference_`` (its rows, each method's cross-fitted Brier score, and its metrics as
    estimated from cross-fitted probabilities and as realised from its labels).
    """

    def __init__(
        self, *, calibration: str = "auto", folds: int = 5, level: float = 0.95, seed: int = 0
    ) -> None:
        if calibration not in CHOICES:
            raise InvalidInput(
                f"calibration={calibration!r} is unknown; use one of {', '.join(CHOICES)}",
                field="calibration",
            )
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            raise InvalidInput(f"folds={folds!r}: give a whole number of 2 or more", field="folds")
        if not (isinstance(level, float) and 0 < level < 1):
            raise InvalidInput(
                f"level={level!r}: give the interval's coverage between 0 and 1, e.g. 0.95",
                field="level",
            )
        self.calibration, self.folds, self.level, self.seed = calibration, folds, level, seed

    def fit(
        self, proba: Any, labels: Any, *, classes: Any = None, positive: Any = None
    ) -> PerformanceEstimator:
        """Learn from the reference: ``proba`` the model's probabilities of held-out
        rows (one column per class, in the order of ``classes``, default the sorted
        distinct labels) and ``labels`` their true classes. ``positive`` (two classes
        only) is the class precision, recall, F1 and ROC-AUC are of; default the second."""
        given = checked_proba(proba, None, "proba")
        if classes is None:
            classes = np.unique(np.asarray(labels, dtype=object).ravel()).tolist()
        self.classes_ = checked_classes(classes, given.shape[1])
        codes = label_codes(labels, self.classes_, len(given))
        check_reference(codes, self.classes_, self.folds)
        self.positive_ = self._positive(positive)
        method, held_out, brier = cross_fit(
            self.calibration, given, codes, folds=self.folds, seed=self.seed
        )
        self.method_ = method
        self.calibration_ = fit(method, given, codes)
        rows = np.zeros(len(given), dtype=np.intp)
        truth = np.zeros_like(given)
        truth[np.arange(len(codes)), codes] = 1.0
        self.reference_: dict[str, Any] = {
            "rows": len(given),
            "brier": brier,
            "estimated": self._values(held_out, given, rows, 1),
            "realised": self._values(truth, given, rows, 1),
        }
        return self

    def _positive(self, positive: Any) -> Any:
        if len(self.classes_) > 2:
            if positive is not None:
                raise InvalidInput(
                    f"positive={positive!r}: a positive class is for two classes, these are "
                    f"{len(self.classes_)}; leave it out",
                    field="positive",
                )
            return None
        if positive is None:
            return self.classes_[1]
        if python_value(positive) not in self.classes_:
            raise InvalidInput(
                f"positive={positive!r} is not one of the classes {self.classes_!r}",
                field="positive",
            )
        return python_value(positive)

    def _values(
        self, calibrated: Probabilities, raw: Probabilities, window: Any, windows: int
    ) -> dict[str, float]:
        found = expected(calibrated, raw, window, windows, positive=self._positive_column())
        return {name: float(values[0]) for name, (values, _) in found.items()}

    def _positive_column(self) -> int | None:
        return None if self.positive_ is None else self.classes_.index(self.positive_)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics each window gets, in the order of :meth:`estimate`'s records."""
        self._check_fitted()
        return MULTICLASS if self.positive_ is None else BINARY

    def calibrate(self, proba: Any) -> Probabilities:
        """The calibrated probabilities of ``proba`` (rows by classes)."""
        self._check_fitted()
        return self.calibration_.apply(checked_proba(proba, len(self.classes_), "proba"))

    def estimate(
        self, windows: Any, *, window_ids: Any = None, classes: Any = None
    ) -> list[Estimate]:
        """One :class:`Estimate` per window and metric, window by window.

        ``windows``: a list of arrays of probabilities, one per window (named by
        ``window_ids``, one per window, default 0, 1, ...), or one NumPy array whose rows
        ``window_ids`` (one per row) split into windows, in the order they first
        appear. ``classes``, when given, must be the reference's, in its order.
        """
        proba, window, ids = self._windows(windows, window_ids, classes)
        calibrated = self.calibration_.apply(proba)
        found = expected(calibrated, proba, window, len(ids), positive=self._positive_column())
        return self._records(found, np.bincount(window), ids)

    def realised(
        self, windows: Any, labels: Any, *, window_ids: Any = None, classes: Any = None
    ) -> list[Estimate]:
        """The same metrics, realised from the windows' true ``labels`` (a list of
        arrays, one per window, or one array, as ``windows``), as records with a
        standard error of 0: what the estimates are checked against once labels come."""
        proba, window, ids = self._windows(windows, window_ids, classes)
        if isinstance(windows, Sequence) and not isinstance(windows, str):
            labels = np.concatenate([np.asarray(each, dtype=object).ravel() for each in labels])
        codes = label_codes(labels, self.classes_, len(proba))
        truth = np.zeros_like(proba)
        truth[np.arange(len(codes)), codes] = 1.0
        found = expected(truth, proba, window, len(ids), positive=self._positive_column())
        return self._records(found, np.bincount(window), ids)

    def _windows(self, windows: Any, window_ids: Any, classes: Any) -> tuple[Any, Any, list[Any]]:
        self._check_fitted()
        if classes is not None:
            given = [python_value(each) for each in np.asarray(classes, dtype=object).ravel()]
            if given != self.classes_:
                raise InvalidInput(
                    f"classes {given!r:.120} differ from the reference's {self.classes_!r:.120}; "
                    "estimate with the model the reference was made with, or fit a new "
                    "reference for this model",
                    field="classes",
                )
        return windows_of(windows, window_ids, len(self.classes_))

    def _records(
        self, found: dict[str, tuple[Any, Any]], rows: Any, ids: list[Any]
    ) -> list[Estimate]:
        z = NormalDist().inv_cdf(0.5 + self.level / 2)
        records = []
        for position, name in enumerate(ids):
            for metric, (values, errors) in found.items():
                value, error = float(values[position]), float(errors[position])
                low, high = (
                    (max(0.0, value - z * error), min(1.0, value + z * error))
                    if math.isfinite(value)
                    else (math.nan, math.nan)
                )
                records.append(
                    Estimate(name, metric, value, low, high, error, int(rows[position]), self.level)
                )
        return records

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibration_"):
            raise InvalidInput(
                "this PerformanceEstimator is not fitted; call fit(proba, labels) on a "
                "labelled reference first, or load one with PerformanceEstimator.from_dict",
                field="estimator",
            )

    def to_dict(self) -> dict[str, Any]:
        """The fitted estimator as a JSON object (with ``"format": 1``), to store with
        the model version; :meth:`from_dict` reads it back."""
        from loopml.evaluation._estimate_json import to_json

        self._check_fitted()
        return to_json(self)

    @classmethod
    def from_dict(cls, data: Any) -> PerformanceEstimator:
        """An estimator as :meth:`to_dict` gave it, every key and value checked."""
        from loopml.evaluation._estimate_json import read_json

        options, fitted = read_json(data)
        estimator = cls(**options)
        estimator.classes_ = fitted["classes"]
        estimator.positive_ = fitted["positive"]
        estimator.method_ = fitted["calibration_method"]
        estimator.calibration_ = Calibration(fitted["calibration_method"], fitted["maps"])
        estimator.reference_ = fitted["reference"]
        return estimator

    def __repr__(self) -> str:
        fitted = f", method_={self.method_!r}" if hasattr(self, "method_") else ""
        return f"PerformanceEstimator(calibration={self.calibration!r}{fitted})"
