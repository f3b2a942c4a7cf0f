"""Off-policy evaluation: what a routing policy that never ran would have earned,
estimated from the requests another policy routed.

The server logs, with every prediction, the arm that answered and the probability the
routing policy gave it. Weighing each logged reward by how much more (or less) likely
the *target* policy is to take the logged action — ``weight = target(action) /
propensity`` — makes the logged rewards an unbiased sample of the target's, as long as
the logged propensities are right and the logging policy could take every action the
target takes (Horvitz and Thompson 1952; Dudik, Langford and Li 2011):

- **IPS** (inverse propensity scoring): the mean of ``weight * reward``. Unbiased;
  its variance grows with the weights.
- **SNIPS** (self-normalised IPS): ``sum(weight * reward) / sum(weight)``. Slightly
  biased (by O(1/n)), often much less variable, and invariant to adding a constant
  to every reward.
- **DR** (doubly robust): a reward model's prediction of the target's reward on each
  row, corrected by the weighted error of that model on the logged action. Unbiased
  if either the propensities or the reward model is right; the better the model, the
  smaller the standard error. Predictions must not come from a model fit on the same
  row (:func:`~loopml.evaluation.cross_fit_rewards` fits them fold by fold).

Each estimate is the mean of per-row terms, so its standard error is their standard
deviation over sqrt(n) (the delta method for SNIPS) and its interval the normal one,
``value ± z * standard_error``. That interval is only as good as the central limit
theorem on heavy-tailed weights: when few rows carry the weight (a small effective
sample size, Kish's ``sum(w)**2 / sum(w**2)``), or the weights do not average about 1
as right propensities make them, the estimate says so in ``warnings``. Clipping the
weights at ``clip`` trades a downward bias (for rewards >= 0) for a smaller variance;
how many rows it cut is part of the result.

>>> rewards = [1, 0, 1, 1]
>>> actions = [0, 1, 1, 0]
>>> propensities = [0.5, 0.5, 0.25, 0.75]
>>> always_first = [[1.0, 0.0]] * 4                   # the target: every request to arm 0
>>> found = ips(rewards, actions, propensities, always_first)
>>> found.value, found.rows, round(found.effective_rows, 2)   # (1/0.5 + 1/0.75) / 4
(0.8333333333333333, 4, 1.92)
>>> found.warnings
('only 1.9 effective rows carry the weight (fewer than 100); the normal interval is unreliable',)
>>> snips(rewards, actions, propensities, always_first).value  # both arm-0 rows earned 1
1.0
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.evaluation._off_policy_inputs import Floats, LoggedBandit, logged_bandit, per_action
from loopml.evaluation._records import Interval

LEVEL = 0.95
# Below this effective sample size a normal interval of a weighted mean is not trusted.
MIN_EFFECTIVE_ROWS = 100
# Standard errors the mean weight may stray from 1 before the propensities are doubted.
WEIGHT_MEAN_ERRORS = 4.0
METHODS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class OffPolicyEstimate:
    """A target policy's value estimated from logged requests: the evidence a routing
    decision stores.

    ``interval`` is ``value ± z * standard_error`` at ``interval.level``;
    ``effective_rows`` the Kish effective sample size of the (clipped) weights;
    ``clip`` the largest weight allowed (None: not clipped) and ``clipped_rows`` how
    many rows it cut; ``max_weight`` and ``mean_weight`` the weights before clipping
    (about 1 on average when the propensities are right). ``warnings`` say why the
    interval may not hold; none: :attr:`reliable`.
    """

    method: str  # "ips", "snips" or "dr"
    value: float
    standard_error: float
    interval: Interval
    rows: int
    effective_rows: float
    clip: float | None
    clipped_rows: int
    max_weight: float
    mean_weight: float
    warnings: tuple[str, ...] = ()

    @property
    def reliable(self) -> bool:
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OffPolicyEstimate:
        fields = dict(data)
        fields["interval"] = Interval(**fields["interval"])
        fields["warnings"] = tuple(fields.get("warnings", ()))
        return cls(**fields)


def ips(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    *,
    clip: float | None = None,
    level: float = LEVEL,
) -> OffPolicyEstimate:
    """The inverse propensity estimate of the value of ``target``.

    ``rewards``, ``actions`` (integer indices) and ``propensities`` (the logging
    policy's probability of each logged action, in (0, 1]) have one entry per logged
    request; ``target`` is (requests, actions): the target policy's probability of
    every action for that request, each row summing to 1 (one-hot for a deterministic
    policy). ``clip`` caps the weights; ``level`` is the interval's confidence.
    """
    logged = logged_bandit(rewards, actions, propensities, target)
    weights, cut = _clipped(logged, clip)
    return _estimate("ips", weights * logged.rewards, logged, weights, clip, cut, level)


def snips(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    *,
    clip: float | None = None,
    level: float = LEVEL,
) -> OffPolicyEstimate:
    """The self-normalised inverse propensity estimate; arguments as for :func:`ips`."""
    logged = logged_bandit(rewards, actions, propensities, target, for_snips=True)
    weights, cut = _clipped(logged, clip)
    value = float(np.dot(weights, logged.rewards) / weights.sum())
    # Delta method: the ratio's per-row influence is weight * (reward - value) / mean weight.
    influence = weights * (logged.rewards - value) / weights.mean()
    return _estimate("snips", influence + value, logged, weights, clip, cut, level)


def doubly_robust(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    predicted_rewards: Any,
    *,
    clip: float | None = None,
    level: float = LEVEL,
) -> OffPolicyEstimate:
    """The doubly robust estimate; ``predicted_rewards`` is (requests, actions): a
    reward model's prediction for every action of every request, made without that
    request (see :func:`~loopml.evaluation.cross_fit_rewards`). Other arguments as for
    :func:`ips`.
    """
    logged = logged_bandit(rewards, actions, propensities, target)
    predicted = per_action(predicted_rewards, "predicted_rewards", logged.target)
    weights, cut = _clipped(logged, clip)
    direct = (logged.target * predicted).sum(axis=1)
    logged_prediction = predicted[np.arange(logged.rows), logged.actions]
    terms = direct + weights * (logged.rewards - logged_prediction)
    return _estimate("dr", terms, logged, weights, clip, cut, level)


def _clipped(logged: LoggedBandit, clip: float | None) -> tuple[Floats, int]:
    if clip is None:
        return logged.weights, 0
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0:
        raise InvalidInput(
            f"clip {clip!r:.60} must be a positive number, the largest weight (target "
            "probability over logged propensity) to allow, e.g. 10; or None not to clip",
            field="clip",
        )
    if math.isinf(clip):
        return logged.weights, 0
    return np.minimum(logged.weights, clip), int((logged.weights > clip).sum())


def _estimate(
    method: str,
    terms: Floats,
    logged: LoggedBandit,
    weights: Floats,
    clip: float | None,
    cut: int,
    level: float,
) -> OffPolicyEstimate:
    """The mean of the per-row ``terms``, its standard error and normal interval."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidInput(
            f"level {level!r:.60} must be a confidence between 0 and 1, e.g. 0.95",
            field="level",
        )
    rows = logged.rows
    value = float(terms.mean())
    standard_error = float(terms.std(ddof=1) / math.sqrt(rows))
    half = NormalDist().inv_cdf(0.5 + level / 2) * standard_error
    squares = float(np.dot(weights, weights))
    effective = float(weights.sum() ** 2 / squares) if squares > 0 else 0.0
    cut_clip = None if clip is None or math.isinf(clip) else float(clip)
    return OffPolicyEstimate(
        method=method,
        value=value,
        standard_error=standard_error,
        interval=Interval(value - half, value + half, float(level)),
        rows=rows,
        effective_rows=effective,
        clip=cut_clip,
        clipped_rows=cut,
        max_weight=float(logged.weights.max()),
        mean_weight=float(logged.weights.mean()),
        warnings=_warnings(logged.weights, effective, standard_error),
    )


def _warnings(weights: Floats, effective: float, standard_error: float) -> tuple[str, ...]:
    found = []
    if effective < MIN_EFFECTIVE_ROWS:
        found.append(
            f"only {effective:.1f} effective rows carry the weight (fewer than "
            f"{MIN_EFFECTIVE_ROWS}); the normal interval is unreliable"
        )
    mean, spread = float(weights.mean()), float(weights.std(ddof=1) / math.sqrt(len(weights)))
    if abs(mean - 1) > WEIGHT_MEAN_ERRORS * spread and abs(mean - 1) > 1e-9:
        found.append(
            f"the weights average {mean:.3f}, not about 1 as right propensities make them "
            f"(± {spread:.3f}): the logged propensities may be wrong, or the target takes "
            "actions the logging policy did not in some contexts"
        )
    if standard_error == 0:
        found.append("every row adds the same term; a standard error of 0 says nothing")
    return tuple(found)
