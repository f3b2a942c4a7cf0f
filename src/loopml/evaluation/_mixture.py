"""The arithmetic of the mixture sequential probability ratio test (mSPRT) for the
difference of two arms' means, on NumPy arrays, so that one look of the live test and
a thousand simulated tests looked at together run the same code.

Johari, Pekelis and Walsh, "Always valid inference: continuous monitoring of A/B
tests" (Operations Research, 2022), with a normal mixing distribution: the estimated
difference ``d`` of the means, of variance ``v``, is scored against "no difference" by
the likelihood ratio mixed over differences drawn from N(0, tau2),

    Lambda = sqrt(v / (v + tau2)) * exp(tau2 * d**2 / (2 * v * (v + tau2))),

a martingale under "no difference" (in the normal approximation), so by Ville's
inequality it ever reaches 1/alpha with chance at most alpha, however often it is
looked at. The always-valid p-value is the running minimum of 1/Lambda, and the
always-valid confidence sequence is the running intersection of the differences
``theta`` whose own ratio (``d - theta`` in place of ``d``) is still below 1/alpha:
``d`` plus or minus :func:`radius`. The interval leaves out 0 exactly when the
p-value is at most alpha.

>>> import numpy as np
>>> v, tau2 = np.array(0.32 / 10_000), 0.02**2
>>> float(np.exp(-log_ratio(np.array(0.0), v, tau2)))  # no difference: Lambda below 1
3.67...
>>> round(float(np.exp(-log_ratio(np.array(0.02), v, tau2))), 4)  # two points: p
0.0113
>>> round(float(radius(v, tau2, 0.05)), 4)  # 10,000 per arm, accuracy near 0.8
0.0172
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Values = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int8]

# Verdict codes, as the arrays hold them (see _sequential.Verdict for their names).
UNDECIDED, CHALLENGER_BETTER, CHAMPION_BETTER, EQUIVALENT = 0, 1, 2, 3


@dataclass(frozen=True)
class Design:
    """What a test is: the outcome ``kind``, its false-alarm rate ``alpha``, the
    smallest lift worth having (``min_lift``, in the outcome's units), the variance
    ``tau2`` of the mixing normal, whether a higher outcome is the better one, and how
    many outcomes each arm needs before a look may decide."""

    kind: str  # "bernoulli" or "continuous"
    alpha: float
    min_lift: float
    tau2: float
    higher_is_better: bool
    min_samples: int


@dataclass(frozen=True)
class Running:
    """Where one or many tests stand: the always-valid p-value, the confidence
    sequence so far (``low`` to ``high``, the running intersection), the verdict code
    and the look at which it was reached (0: none yet)."""

    p_value: Values
    low: Values
    high: Values
    verdict: Codes
    decided_at: npt.NDArray[np.int64]


def arm_variance(kind: str, n: Values, total: Values, squares: Values) -> Values:
    """The variance of one outcome of an arm. Bernoulli: ``p(1 - p)`` at the mean
    smoothed by half an outcome each way (so an arm all right or all wrong still has
    a variance), exact for 0/1 outcomes and an upper bound for any outcome in [0, 1].
    Continuous: the sample variance (n - 1 in the denominator)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "bernoulli":
            smoothed = (total + 0.5) / (n + 1.0)
            return smoothed * (1.0 - smoothed)
        spread = np.maximum(squares - total * total / n, 0.0)
        return np.where(n > 1, spread / (n - 1.0), np.nan)


def log_ratio(difference: Values, variance: Values, tau2: float) -> Values:
    """log Lambda for ``difference`` of variance ``variance`` (see the module's
    docstring); a variance of 0 gives -inf for no difference and +inf for any."""
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = variance + tau2
        found = 0.5 * np.log(variance / spread) + tau2 * difference**2 / (2 * variance * spread)
    exact = np.where(difference == 0, -np.inf, np.inf)
    return np.where(variance > 0, found, exact)


def radius(variance: Values, tau2: float, alpha: float) -> Values:
    """Half the width of the confidence sequence's interval at one look: the
    ``theta`` whose ratio reaches exactly 1/alpha are ``d`` plus or minus this."""
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = variance + tau2
        squared = variance * spread / tau2 * (2 * np.log(1 / alpha) + np.log(spread / variance))
    return np.where(variance > 0, np.sqrt(squared), 0.0)


def advance(
    design: Design,
    champion: tuple[Values, Values, Values],
    challenger: tuple[Values, Values, Values],
    before: Running,
    look: int,
) -> tuple[Running, Values, Values]:
    """One look at tests whose arms now hold ``champion`` and ``challenger`` (each
    ``(n, total, squares)``), from where they stood ``before``: where they stand after
    it, with the difference of the means (challenger minus champion) and its variance.

    Until both arms hold ``min_samples`` outcomes a look changes nothing (the plug-in
    variance is not to be trusted sooner). A verdict, once reached, stays: the test
    has stopped; later looks still narrow the interval, as evidence.
    """
    n_a, total_a, squares_a = champion
    n_b, total_b, squares_b = challenger
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = total_b / n_b - total_a / n_a
        apart = (
            arm_variance(design.kind, n_a, total_a, squares_a) / n_a
            + arm_variance(design.kind, n_b, total_b, squares_b) / n_b
        )
        # Under "no difference" both arms share one mean, and the outcomes of both
        # estimate its variance: a small arm whose outcomes happen to agree (a canary
        # of an accurate model, every one right) has a variance of its own near 0,
        # which made any difference look impossible. The larger of the two is used.
        pooled = arm_variance(design.kind, n_a + n_b, total_a + total_b, squares_a + squares_b) * (
            1.0 / n_a + 1.0 / n_b
        )
        variance = np.fmax(apart, pooled)
    ready = (n_a >= design.min_samples) & (n_b >= design.min_samples)
    p_now = np.minimum(np.exp(-log_ratio(difference, variance, design.tau2)), 1.0)
    half = radius(variance, design.tau2, design.alpha)
    p_value = np.where(ready, np.minimum(before.p_value, p_now), before.p_value)
    low = np.where(ready, np.maximum(before.low, difference - half), before.low)
    high = np.where(ready, np.minimum(before.high, difference + half), before.high)

    open_ = ready & (before.verdict == UNDECIDED)
    better_up = (difference > 0) == design.higher_is_better
    rejected = open_ & (p_now <= design.alpha)
    within = open_ & ~rejected & (low > -design.min_lift) & (high < design.min_lift)
    verdict = before.verdict.copy()
    verdict[rejected] = np.where(better_up[rejected], CHALLENGER_BETTER, CHAMPION_BETTER)
    verdict[within] = EQUIVALENT
    decided_at = np.where(rejected | within, look, before.decided_at)
    return Running(p_value, low, high, verdict, decided_at), difference, variance
