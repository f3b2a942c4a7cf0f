"""The arrays of an off-policy estimate, checked and made NumPy: every bad input is
named by its argument, with the value at fault and the fix.

One row is one logged request: the reward it got, the action (arm) the logging policy
took, the probability the logging policy gave that action, and — a row of ``target`` —
the probability the policy under evaluation gives every action in that context.

>>> logged = logged_bandit([1, 0], [0, 1], [0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]])
>>> logged.rows, logged.weights.tolist()
(2, [2.0, 1.0])
>>> logged_bandit([1, 0], [0, 1], [0.5, 0.0], [[1.0, 0.0], [0.5, 0.5]])
Traceback (most recent call last):
...
loopml.errors.InvalidInput: propensities must be in (0, 1] ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

# How far a row of the target policy may sum from 1 (float rounding of probabilities).
SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LoggedBandit:
    """Checked logged data and the target policy: ``weights`` are the target's
    probability of each logged action over the logging policy's (before clipping)."""

    rewards: Floats  # (rows,)
    actions: Ints  # (rows,)
    propensities: Floats  # (rows,)
    target: Floats  # (rows, actions)
    weights: Floats  # (rows,)

    @property
    def rows(self) -> int:
        return len(self.rewards)


def logged_bandit(
    rewards: Any, actions: Any, propensities: Any, target: Any, *, for_snips: bool = False
) -> LoggedBandit:
    """The arrays checked against each other (see the module's docstring)."""
    reward = _vector(rewards, "rewards")
    rows = len(reward)
    if rows < 2:
        raise InvalidInput(
            f"rewards has {rows} row(s); an estimate and its standard error need at least 2 "
            "logged requests",
            field="rewards",
        )
    target_matrix = _matrix(target, "target", rows)
    action = logged_actions(actions, rows, target_matrix.shape[1])
    propensity = _vector(propensities, "propensities", rows)
    outside = ~((propensity > 0) & (propensity <= 1))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise InvalidInput(
            f"propensities must be in (0, 1] (the probability the logging policy gave the "
            f"action it took); row {row} has {propensity[row]!r} and {int(outside.sum())} "
            "row(s) are outside; drop requests not routed at random (a shadow or fallback "
            "answer has none)",
            field="propensities",
        )
    _check_distributions(target_matrix)
    _check_support(target_matrix, action)
    weights = target_matrix[np.arange(rows), action] / propensity
    if for_snips and not weights.any():
        raise InvalidInput(
            "target gives probability 0 to the logged action of every row, so the "
            "self-normalised estimate divides by zero; use ips, or log requests where the "
            "target's actions were taken",
            field="target",
        )
    return LoggedBandit(reward, action, propensity, target_matrix, weights)


def logged_actions(actions: Any, rows: int, count: int | None) -> Ints:
    """Integer action indices, one per row, each below ``count`` when it is given."""
    given = np.asarray(actions)
    if given.ndim != 1 or len(given) != rows:
        raise InvalidInput(
            f"actions has shape {given.shape}, rewards {(rows,)}; give one action index per "
            "logged request",
            field="actions",
        )
    if given.dtype.kind in "iu":
        action = given.astype(np.intp)
    else:
        try:
            as_float = given.astype(np.float64)
        except (TypeError, ValueError):
            as_float = np.full(rows, np.nan)
        bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
        if given.dtype.kind == "b" or bad.any():
            row = int(np.flatnonzero(bad)[0]) if bad.any() else 0
            raise InvalidInput(
                f"actions must be integer indices of the actions (arms), 0 for the first; "
                f"row {row} has {given[row]!r}; map labels to indices first",
                field="actions",
            )
        action = as_float.astype(np.intp)
    limit = count if count is not None else np.iinfo(np.intp).max
    outside = (action < 0) | (action >= limit)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise InvalidInput(
            f"actions row {row} is {int(action[row])}, not one of the {count} actions (0 to "
            f"{limit - 1}); give one column per action (in target, or as n_actions)",
            field="actions",
        )
    return action


def per_action(values: Any, name: str, target: Floats) -> Floats:
    """A (rows, actions) matrix of finite numbers shaped like ``target``."""
    matrix = _matrix(values, name, target.shape[0])
    if matrix.shape != target.shape:
        raise InvalidInput(
            f"{name} has shape {matrix.shape} and target {target.shape}; give one column "
            "per action of the target, rows in the same order",
            field=name,
        )
    return matrix


def _vector(values: Any, name: str, rows: int | None = None) -> Floats:
    try:
        vector = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{name} must be numbers; got {type(values).__qualname__} {values!r:.60}",
            field=name,
        ) from None
    if vector.ndim != 1 or (rows is not None and len(vector) != rows):
        raise InvalidInput(
            f"{name} has shape {vector.shape}, rewards {(rows,) if rows else '(rows,)'}; "
            "give one number per logged request",
            field=name,
        )
    _check_finite(vector, name)
    return vector


def _matrix(values: Any, name: str, rows: int) -> Floats:
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{name} must be a (rows, actions) array of numbers; got {type(values).__qualname__}",
            field=name,
        ) from None
    if matrix.ndim != 2 or matrix.shape[0] != rows or matrix.shape[1] < 1:
        raise InvalidInput(
            f"{name} has shape {matrix.shape}, but there are {rows} logged requests; give "
            f"a ({rows}, actions) array: one row per request, one column per action",
            field=name,
        )
    _check_finite(matrix, name)
    return matrix


def _check_finite(values: Floats, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InvalidInput(
            f"{name} has {int(bad.sum())} NaN or infinite value(s), the first in row {row}; "
            "drop or fill those requests first",
            field=name,
        )


def _check_distributions(target: Floats) -> None:
    negative = (target < 0) | (target > 1)
    if negative.any():
        row, column = (int(i) for i in np.argwhere(negative)[0])
        raise InvalidInput(
            f"target row {row} gives action {column} probability {target[row, column]!r}; "
            "each row must be probabilities in [0, 1] of the actions",
            field="target",
        )
    sums = target.sum(axis=1)
    off = np.abs(sums - 1) > SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise InvalidInput(
            f"target row {row} sums to {sums[row]!r}, and {int(off.sum())} row(s) do not sum "
            "to 1; each row is the target policy's distribution over the actions (divide by "
            "the row sum, or give a one-hot row for a deterministic policy)",
            field="target",
        )


def _check_support(target: Floats, actions: Ints) -> None:
    """No estimate can say what an action never logged would have earned, so a target
    that gives one probability is refused rather than silently undervalued."""
    logged = np.bincount(actions, minlength=target.shape[1]) > 0
    unseen = (target.max(axis=0) > 0) & ~logged
    if unseen.any():
        action = int(np.flatnonzero(unseen)[0])
        rows = int((target[:, action] > 0).sum())
        raise InvalidInput(
            f"target gives action {action} a positive probability in {rows} row(s), but "
            "the log never took that action, so nothing says what it earns; log requests "
            "routed to it (explore it) or evaluate a target without it",
            field="target",
        )
