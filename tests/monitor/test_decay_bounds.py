"""The decay rules' bounds for accuracy hold their confidence exactly: each false-alarm
rate below is summed over every outcome a binomial can have (no simulation), at the
edge of the rule's null, for every accuracy on a grid.

The bounds of a mean (a regressor's rules) have no such sum; they are measured on real
data in test_decay_rates.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import binom

from loopml.monitor._decay_bounds import accuracy_change_upper, exact_upper, sign_gain_upper
from loopml.monitor._triggers import wilson_upper

ACCURACIES = np.linspace(0.5, 0.999, 200)


def worst_miss(bound: Callable[[int, int, float], float], n: int, confidence: float) -> float:
    """The largest chance, over the accuracies, that the upper bound of ``n`` rows'
    accuracy falls under the true one: a ``worse_than`` at the model's own accuracy
    firing."""
    right = np.arange(n + 1)
    under = np.array([bound(int(k), n, confidence) for k in right])
    return max(float(binom.pmf(right, n, p)[under < p].sum()) for p in ACCURACIES)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [20, 30, 50, 100, 200, 500])
def test_the_accuracy_bound_misses_at_most_as_often_as_its_confidence_allows(
    n: int, confidence: float
) -> None:
    assert worst_miss(exact_upper, n, confidence) <= 1 - confidence


def test_wilsons_bound_which_the_rule_used_before_misses_far_more_often() -> None:
    # at 95%, windows of 100 rows: 12% for a model 99.4% right, 8% for one 97% right
    assert worst_miss(wilson_upper, 100, 0.95) > 0.1


@functools.cache
def fires(d: float, n: int, deployed_n: int) -> np.ndarray:
    """Whether ``drop`` fires, for every count right in the window (rows) and in the
    evaluation (columns)."""
    return np.array(
        [
            [
                accuracy_change_upper(k, n, j, deployed_n, 0.95)[1] < -d
                for j in range(deployed_n + 1)
            ]
            for k in range(n + 1)
        ]
    )


@pytest.mark.parametrize("d", [0.0, 0.05, 0.2])
@pytest.mark.parametrize(("n", "deployed_n"), [(30, 100), (30, 500), (100, 100), (100, 500)])
def test_a_drop_of_exactly_d_fires_at_most_as_often_as_its_confidence_allows(
    d: float, n: int, deployed_n: int
) -> None:
    fired = fires(d, n, deployed_n)
    for p in np.linspace(d + 0.3, 0.999, 40):
        now, before = (
            binom.pmf(np.arange(n + 1), n, p - d),
            binom.pmf(np.arange(deployed_n + 1), deployed_n, p),
        )
        assert float(now @ fired @ before) <= 0.05, (d, n, deployed_n, p)


@pytest.mark.parametrize("n", [30, 100, 300])
def test_a_classifier_as_good_as_its_baseline_is_found_worse_at_most_as_often_as_allowed(
    n: int,
) -> None:
    """Each row: only the model right (chance q), only the baseline right (q), or
    neither or both; the counts are multinomial."""
    from scipy.stats import multinomial

    counts = [(b, w) for b in range(n + 1) for w in range(n + 1 - b)]
    fired = [
        (b, w) for b, w in counts if sign_gain_upper(better=b, worse=w, rows=n, confidence=0.95) < 0
    ]
    better, worse = np.array(fired).T
    for q in (0.01, 0.05, 0.1, 0.2, 0.3, 0.45):
        chance = multinomial.pmf(
            np.column_stack([better, worse, n - better - worse]), n, [q, q, 1 - 2 * q]
        )
        assert float(chance.sum()) <= 0.05, q
