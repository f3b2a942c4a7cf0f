"""Calibration of a probabilistic classifier: the reliability curve and the expected
calibration error (ECE).

With two classes the curve is of the probability of the second class (in sorted order)
against the share of rows of that class; with more, of the top-label confidence against
the share of rows whose most probable class is right. Scores fall into 10 bins of equal
width on [0, 1]; the ECE is the mean over bins of ``|mean score - share|`` weighted by
the bin's rows, that is ``sum over bins of |sum(score - outcome)| / rows``.

>>> import numpy as np
>>> from loopml.evaluation._predict import Predictions
>>> p = Predictions("classification", np.array([0, 1, 1, 0]), np.array([0, 1, 1, 1]),
...                 np.array(["no", "yes"]), np.array([[.9, .1], [.2, .8], [.2, .8], [.4, .6]]))
>>> found = calibration(p)
>>> found["ece"], found["curve"][0]
(0.27..., [0.1, 0.0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation._predict import Predictions

BINS = 10


def outcomes(
    p: Predictions,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None:
    """Per row: the score whose calibration is measured, whether the event it gives
    a probability of happened (1.0 or 0.0), and what the score is."""
    if p.proba is None:
        return None
    if p.classes_count == 2:
        return p.proba[:, 1], (p.y == 1).astype(np.float64), f"P(class {p.label_of(1)!r})"
    top = p.proba.argmax(axis=1)
    return p.proba.max(axis=1), (top == p.y).astype(np.float64), "top-label confidence"


def bin_of(score: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    return np.clip((score * BINS).astype(np.intp), 0, BINS - 1)


def calibration(p: Predictions) -> dict[str, Any] | None:
    """``{"ece", "curve": [[mean score, share, rows], ...], "bins", "of"}``, one curve
    point per bin that has rows; None for a model without probabilities."""
    found = outcomes(p)
    if found is None:
        return None
    score, outcome, of = found
    bins = bin_of(score)
    rows = np.bincount(bins, minlength=BINS)
    score_sum = np.bincount(bins, weights=score, minlength=BINS)
    outcome_sum = np.bincount(bins, weights=outcome, minlength=BINS)
    curve = [
        [float(score_sum[b] / rows[b]), float(outcome_sum[b] / rows[b]), int(rows[b])]
        for b in np.flatnonzero(rows)
    ]
    ece = float(np.abs(score_sum - outcome_sum).sum() / len(score))
    return {"ece": ece, "curve": curve, "bins": BINS, "of": of}
