"""Sensitivity to small input changes: per feature, the share of predictions that change.

- A numeric feature is moved by 0.1 of its standard deviation (on the evaluation rows)
  up, and separately down; a row counts as changed when either move changes its
  prediction. The share of each direction is kept in the details.
- A text, categorical or boolean feature has each value swapped for the most frequent
  other value (the most frequent value for the second most frequent one, every other
  value, and a missing one, for the most frequent).
- Other columns (dates...) are left out.

A classifier's prediction changes when its label does; a regressor's when it moves by
more than 1% of the standard deviation of its predictions (so float noise is not a
change). At most 10,000 rows, drawn with a fixed seed, are perturbed: the share is then
known to within about one point, and the cost stays a few predictions per feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loopml.evaluation._predict import ROWS
from loopml.evaluation._slices import most_frequent

if TYPE_CHECKING:
    import polars as pl

    from loopml.models import Predictor

SAMPLE_ROWS = 10_000
STEP = 0.1  # of the feature's standard deviation
REGRESSION_TOLERANCE = 0.01  # of the predictions' standard deviation
SEED = 7
CELLS_PER_CALL = 4_000_000  # rows x columns predicted per call


def sensitivity(
    model: Predictor, frame: pl.DataFrame, features: Sequence[str], form: str, task: str
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """``({feature: share changed}, {feature: how it was perturbed}})``."""
    sample = _sample(frame.select(features))
    planned = {name: found for name in features if (found := _variants(frame, sample, name))}
    frames = [sample, *(variant for moved, _ in planned.values() for variant in moved)]
    out = _predict_stacked(model, frames, form)
    base, after = out[0], iter(out[1:])
    if task == "classification":
        changed = [np.asarray(row != base, dtype=bool) for row in after]
    else:
        numbers = out.astype(np.float64)
        tolerance = REGRESSION_TOLERANCE * float(np.std(numbers[0]))
        changed = list(np.abs(numbers[1:] - numbers[0]) > tolerance)
    flags = iter(changed)
    shares: dict[str, float] = {}
    how: dict[str, dict[str, Any]] = {}
    for name, (moved, detail) in planned.items():
        mine = [next(flags) for _ in moved]
        if len(mine) == 2:
            detail["up"], detail["down"] = (float(flag.mean()) for flag in mine)
        shares[name] = float(np.logical_or.reduce(mine).mean()) if mine else 0.0
        how[name] = detail
    return shares, how


def _predict_stacked(model: Predictor, frames: list[pl.DataFrame], form: str) -> npt.NDArray[Any]:
    """Predictions of each frame (all of one height), one row per frame.

    Frames are stacked into few calls: a model's fixed cost per call (input checks,
    thread start-up per tree) is then paid once per call, not once per feature.
    """
    import polars as pl

    rows, columns = frames[0].shape
    per_call = max(1, CELLS_PER_CALL // (rows * max(1, columns)))
    parts = []
    for start in range(0, len(frames), per_call):
        stacked = pl.concat(frames[start : start + per_call], how="vertical_relaxed")
        found = model.labels(model.as_input(stacked, form), stacked.height, on=ROWS)
        parts.append(found.reshape(-1, rows))
    return np.concatenate(parts)


def _sample(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height <= SAMPLE_ROWS:
        return frame
    rng = np.random.default_rng(SEED)
    return frame[np.sort(rng.choice(frame.height, SAMPLE_ROWS, replace=False))]


def _variants(
    frame: pl.DataFrame, sample: pl.DataFrame, name: str
) -> tuple[list[pl.DataFrame], dict[str, Any]] | None:
    import polars as pl

    dtype = frame.schema[name]
    column = pl.col(name)
    if dtype.is_numeric():
        spread = frame[name].cast(pl.Float64).std()
        step = STEP * float(spread) if isinstance(spread, int | float) else 0.0
        detail: dict[str, Any] = {"kind": "numeric", "step": step}
        if not np.isfinite(step) or step == 0:
            return [], {**detail, "step": 0.0, "up": 0.0, "down": 0.0}
        up = sample.with_columns(column + step)
        down = sample.with_columns(column - step)
        return [up, down], detail
    if dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum):
        values = most_frequent(frame[name].drop_nulls())
        if len(values) < 2:
            return [], {"kind": "swap", "values": len(values)}
        first, second = values[0], values[1]
        swapped = pl.when(column == first).then(pl.lit(second)).otherwise(pl.lit(first))
        variant = sample.with_columns(swapped.cast(dtype).alias(name))
        return [variant], {"kind": "swap", "most_frequent": str(first), "second": str(second)}
    return None
