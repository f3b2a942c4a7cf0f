"""Recalibrating a classifier's probabilities on a labelled reference, so that a row
given probability 0.8 of a class is of that class 8 times in 10.

Each class's probability is mapped one-vs-rest (for two classes only the second
column's, the first being 1 minus it), then rows are renormalised to sum to 1:

- ``"sigmoid"``: ``expit(slope * logit(p) + intercept)``, a logistic regression of the
  class on the logit of its probability (scikit-learn's ``LogisticRegression``);
- ``"isotonic"``: a non-decreasing step function fitted by scikit-learn's
  ``IsotonicRegression``, applied by linear interpolation between its knots and
  clipped at both ends (what its ``predict`` does);
- ``"none"``: the probabilities as the model gives them.

``"auto"`` judges the three by the Brier score of their cross-fitted probabilities on
the reference (each fold calibrated by maps fitted on the other folds), from the
simplest: a more flexible map replaces the one kept so far only if it lowers the
per-row Brier score by more than two standard errors of the paired difference. So a
model already calibrated keeps its own probabilities, and isotonic regression, which
follows a small reference's noise, wins only where it has the rows to pay for its
freedom and the model's errors are not of the logistic shape.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(size=4000)  # the model's probability of class 1
>>> truth = np.where(p < 0.5, 0.1, 0.9)  # how often it is class 1: a step, not a curve
>>> codes = (rng.uniform(size=4000) < truth).astype(np.intp)
>>> proba = np.column_stack([1 - p, p])
>>> chosen, held_out, brier = cross_fit("auto", proba, codes, folds=5, seed=0)
>>> chosen, round(brier["none"], 2), round(brier["isotonic"], 2)
('isotonic', 0.27, 0.18)
>>> calibration = fit("isotonic", proba, codes)
>>> float(np.round(calibration.apply(np.array([[0.75, 0.25]]))[0, 1], 1))
0.1
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

Probabilities = npt.NDArray[np.float64]
METHODS = ("none", "sigmoid", "isotonic")  # simplest first: ties go to the first
CHOICES = ("auto", *METHODS)
# logit(p) of a probability of exactly 0 or 1 (trees give them) is kept finite
_LOGIT_CLIP = 1e-9


@dataclass(frozen=True)
class ClassMap:
    """How one class's probability is recalibrated: by ``slope`` and ``intercept``
    (sigmoid), or by the knots ``x`` to ``y`` (isotonic)."""

    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.x:
            return np.interp(p, self.x, self.y)
        from scipy.special import expit

        return np.asarray(expit(self.slope * _logit(p) + self.intercept), dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """A fitted recalibration: its method and one map per calibrated column (one for
    two classes, the second column; one per class for more; none for ``"none"``)."""

    method: str
    maps: tuple[ClassMap, ...]

    def apply(self, proba: Probabilities) -> Probabilities:
        if self.method == "none":
            return proba
        if proba.shape[1] == 2:
            second = np.clip(self.maps[0].apply(proba[:, 1]), 0.0, 1.0)
            return np.column_stack([1 - second, second])
        mapped = np.column_stack([m.apply(proba[:, c]) for c, m in enumerate(self.maps)])
        mapped = np.clip(mapped, 0.0, 1.0)
        sums = mapped.sum(axis=1, keepdims=True)
        # a row every map sends to 0 says nothing of its class: all classes alike
        return np.where(sums > 0, mapped / np.where(sums > 0, sums, 1), 1 / proba.shape[1])


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    from scipy.special import logit

    return np.asarray(logit(np.clip(p, _LOGIT_CLIP, 1 - _LOGIT_CLIP)), dtype=np.float64)


def fit(method: str, proba: Probabilities, codes: npt.NDArray[np.intp]) -> Calibration:
    """The ``method``'s maps fitted on all the given rows."""
    if method == "none":
        return Calibration("none", ())
    columns = [1] if proba.shape[1] == 2 else range(proba.shape[1])
    fitter = _sigmoid if method == "sigmoid" else _isotonic
    return Calibration(method, tuple(fitter(proba[:, c], codes == c) for c in columns))


def _sigmoid(p: npt.NDArray[np.float64], hit: npt.NDArray[np.bool_]) -> ClassMap:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    # A light penalty keeps the slope finite when the reference separates the class
    # perfectly; against thousands of rows' log-loss it moves nothing else.
    model = LogisticRegression(C=100.0, max_iter=1_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(_logit(p)[:, None], hit)
    return ClassMap(slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))


def _isotonic(p: npt.NDArray[np.float64], hit: npt.NDArray[np.bool_]) -> ClassMap:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(p, hit.astype(np.float64))
    return ClassMap(
        x=tuple(float(v) for v in model.X_thresholds_),
        y=tuple(float(v) for v in model.y_thresholds_),
    )


def _brier_rows(proba: Probabilities, codes: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    """Each row's multi-class Brier score: the squared distance between its
    probabilities and its one-hot true class."""
    truth = np.zeros_like(proba)
    truth[np.arange(len(codes)), codes] = 1.0
    return np.asarray(np.sum((proba - truth) ** 2, axis=1), dtype=np.float64)


def cross_fit(
    choice: str, proba: Probabilities, codes: npt.NDArray[np.intp], *, folds: int, seed: int
) -> tuple[str, Probabilities, dict[str, float]]:
    """The method ``choice`` names (or ``"auto"`` picks), the reference's probabilities
    as calibrated by maps fitted on the other folds, and each tried method's mean Brier
    score of its own."""
    from sklearn.model_selection import StratifiedKFold

    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(proba, codes))
    tried = METHODS if choice == "auto" else (choice,)
    held_out: dict[str, Probabilities] = {}
    for method in tried:
        found = np.empty_like(proba)
        for train, test in splits:
            found[test] = fit(method, proba[train], codes[train]).apply(proba[test])
        held_out[method] = found
    losses = {method: _brier_rows(found, codes) for method, found in held_out.items()}
    chosen = tried[0]
    for method in tried[1:]:
        gain = losses[chosen] - losses[method]
        if gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)):
            chosen = method
    scores = {method: float(loss.mean()) for method, loss in losses.items()}
    return chosen, held_out[chosen], scores


def check_reference(codes: npt.NDArray[np.intp], classes: list[object], folds: int) -> None:
    """Refuse a reference that cannot be cross-fitted: one of a single class, or with a
    class of fewer rows than folds."""
    counts = np.bincount(codes, minlength=len(classes))
    if np.count_nonzero(counts) < 2:
        raise InvalidInput(
            f"the reference's labels are all {classes[int(codes[0])]!r} ({len(codes)} rows); "
            "a reference needs rows of every class to learn how often the model is right: "
            "give held-out rows of several classes",
            field="labels",
        )
    short = np.flatnonzero(counts < folds)
    if len(short):
        raise InvalidInput(
            f"the reference has {counts[short[0]]} rows of class {classes[short[0]]!r}, fewer "
            f"than the {folds} folds calibration is cross-fitted on; give a larger reference "
            "with every class in it, or fewer folds",
            field="labels",
        )
