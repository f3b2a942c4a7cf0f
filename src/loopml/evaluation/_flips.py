"""Per-row flips against another model (normally the champion) on the same rows.

A negative flip is a row the other model got right and this one gets wrong; a positive
flip, the reverse. For classification "right" is predicting the true label. For
regression and time series it is an absolute error within the median absolute error of
the other model on these rows: the other is right on half the rows by construction,
and this one is judged by the same yardstick. Row positions are those of the
evaluation rows, counted from 0.

>>> import numpy as np
>>> from loopml.evaluation._predict import Predictions
>>> p = Predictions("regression", np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.5, 3.0, 6.0]))
>>> found = flips(p, np.array([1.2, 2.0, 5.0, 4.1]), "champion@v2")
>>> found.negative_rows, found.positive_rows
([1, 3], [0, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import Flips


def flips(p: Predictions, other: npt.NDArray[Any], against: str) -> Flips:
    """Flips of ``p``'s predictions against ``other``, the other model's raw predictions."""
    if p.task == "classification":
        assert p.classes is not None
        this_right = p.pred == p.y
        other_right = np.asarray(other == p.classes[p.y], dtype=bool)
    else:
        other_error = np.abs(p.y - other.astype(np.float64))
        tolerance = float(np.median(other_error))
        this_right = np.abs(p.y - p.pred) <= tolerance
        other_right = other_error <= tolerance
    negative = np.flatnonzero(other_right & ~this_right)
    positive = np.flatnonzero(~other_right & this_right)
    return Flips(
        against=against,
        negative=len(negative),
        positive=len(positive),
        rows=p.rows,
        negative_rows=negative.tolist(),
        positive_rows=positive.tolist(),
    )
