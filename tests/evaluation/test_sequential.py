"""The sequential A/B test measured like an instrument, on real outcomes (see
sequential_pools): between equal arms it rarely declares a winner, however often it is
looked at (false alarms); a two-point lift in accuracy is found, and the right arm
named (power); its confidence sequence covers the true difference at every look at
once (coverage); and one look's numbers are those of the paper's formula.

Each simulation runs 1,000 tests at once, looked at after every batch of 100 outcomes
per arm up to 20,000 per arm (200 looks), unless it says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from sequential_pools import (
    Pool,
    Simulated,
    accurate_correctness,
    bmi_squared_errors,
    correctness,
    lifted,
    rating_only_correctness,
    simulate,
    squared_errors,
    true_class_probability,
)

from loopml.evaluation import Verdict, fold_outcomes, sequential_test
from loopml.evaluation import _mixture as mixture

TESTS = 1_000
LOOKS = 200  # batches of 100 per arm: up to 20,000 outcomes per arm
WINNERS = (mixture.CHALLENGER_BETTER, mixture.CHAMPION_BETTER)


def false_alarms(found: Simulated) -> float:
    return sum(found.share(code) for code in WINNERS)


def test_equal_classifiers_rarely_get_a_winner_however_often_looked_at() -> None:
    pool = correctness()
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(state, pool, pool, tests=TESTS, batches=LOOKS, seed=1)
    # measured 0.019 (0.011 challenger, 0.008 champion)
    assert false_alarms(found) <= 0.05, f"false alarms {false_alarms(found):.3f}"
    # ... and most stop as "equivalent" by 20,000 outcomes per arm (measured 0.897)
    assert found.share(mixture.EQUIVALENT) >= 0.8


def test_equal_classifiers_looked_at_every_ten_outcomes() -> None:
    pool = correctness()
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(
        state, pool, pool, tests=TESTS, batches=1_000, champion_batch=10,
        challenger_batch=10, seed=2,
    )  # fmt: skip
    assert false_alarms(found) <= 0.05, f"false alarms {false_alarms(found):.3f}"


@pytest.mark.parametrize(
    ("kind", "pool", "min_lift", "higher_is_better", "split"),
    [
        ("continuous", true_class_probability, 0.02, True, (100, 100)),
        ("bernoulli", true_class_probability, 0.02, True, (100, 100)),
        ("continuous", squared_errors, 300.0, False, (100, 100)),
        ("continuous", squared_errors, 300.0, False, (180, 20)),  # a 10% canary
        ("bernoulli", correctness, 0.02, True, (180, 20)),
    ],
    ids=["reward", "reward-as-bernoulli", "squared-error", "squared-error-canary", "canary"],
)
def test_equal_arms_of_real_rewards_and_errors_rarely_get_a_winner(
    kind: str,
    pool: Callable[[], Pool],
    min_lift: float,
    higher_is_better: bool,
    split: tuple[int, int],
) -> None:
    outcomes = pool()
    state = sequential_test(kind, min_lift=min_lift, higher_is_better=higher_is_better)
    found = simulate(
        state, outcomes, outcomes, tests=TESTS, batches=LOOKS, champion_batch=split[0],
        challenger_batch=split[1], seed=3,
    )  # fmt: skip
    assert false_alarms(found) <= 0.05, f"false alarms {false_alarms(found):.3f}"


@pytest.mark.parametrize("kind", ["bernoulli", "continuous"])
def test_equal_accurate_classifiers_under_a_canary_rarely_get_a_winner(kind: str) -> None:
    # 98% right, 90/10: the small arm often reaches min_samples with every outcome
    # right, and its own variance, near 0, made "no difference" look impossible
    # (measured 11.5% false alarms with each arm's own variance, 8.0% as bernoulli
    # at 97% right). Under "no difference" both arms share one mean: the variance
    # of the pooled outcomes is the one to test it with.
    pool = accurate_correctness()
    state = sequential_test(kind, min_lift=0.02)
    found = simulate(
        state, pool, pool, tests=TESTS, batches=300, champion_batch=90,
        challenger_batch=10, seed=4,
    )  # fmt: skip
    assert false_alarms(found) <= 0.05, f"false alarms {false_alarms(found):.3f}"


def test_a_two_point_lift_is_found_in_fourteen_thousand_outcomes_per_arm() -> None:
    champion = correctness()
    challenger = lifted(champion, 0.02, seed=4)
    true_lift = challenger.mean() - champion.mean()
    assert true_lift == pytest.approx(0.02, abs=0.0005)
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(state, champion, challenger, tests=TESTS, batches=LOOKS, seed=5)
    # measured 0.842 by 14,000 per arm, 0.948 by 20,000; half by 6,900. A
    # fixed-horizon two-proportion z-test needs 7,722 per arm for 80% power.
    assert found.decided_by(mixture.CHALLENGER_BETTER, 140) >= 0.80
    assert found.share(mixture.CHAMPION_BETTER) <= 0.05  # measured 0.000
    # the confidence sequence held the true lift at all 200 looks (measured 0.971)
    covered = np.mean((found.low <= true_lift) & (true_lift <= found.high))
    assert covered >= 0.95, f"coverage {covered:.3f}"


def test_a_real_model_two_points_better_is_promoted() -> None:
    champion, challenger = rating_only_correctness(), correctness()
    true_lift = challenger.mean() - champion.mean()
    assert true_lift == pytest.approx(0.0193, abs=0.0001)
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(state, champion, challenger, tests=TESTS, batches=LOOKS, seed=11)
    # measured 0.916 by 20,000 per arm (0.80 by 14,000); the champion never
    assert found.decided_by(mixture.CHALLENGER_BETTER, LOOKS) >= 0.85
    assert found.share(mixture.CHAMPION_BETTER) <= 0.05


def test_a_two_point_drop_names_the_champion() -> None:
    challenger = correctness()
    champion = lifted(challenger, 0.02, seed=6)
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(state, champion, challenger, tests=TESTS, batches=LOOKS, seed=7)
    assert found.decided_by(mixture.CHAMPION_BETTER, 140) >= 0.80
    assert found.share(mixture.CHALLENGER_BETTER) <= 0.05


def test_a_model_with_lower_squared_error_is_the_better_one() -> None:
    champion, challenger = bmi_squared_errors(), squared_errors()  # BMI alone: worse
    true_lift = challenger.mean() - champion.mean()
    assert true_lift < -300  # the full model's error is lower
    state = sequential_test("continuous", min_lift=300.0, higher_is_better=False)
    found = simulate(state, champion, challenger, tests=TESTS, batches=50, seed=8)
    assert found.share(mixture.CHALLENGER_BETTER) >= 0.80
    assert found.share(mixture.CHAMPION_BETTER) <= 0.05
    covered = np.mean((found.low <= true_lift) & (true_lift <= found.high))
    assert covered >= 0.95, f"coverage {covered:.3f}"


def test_one_look_matches_the_papers_formula() -> None:
    # Johari, Pekelis & Walsh, for n outcomes per arm of a common variance s2:
    # Lambda = sqrt(2 s2 / (2 s2 + n tau2)) exp(n^2 tau2 d^2 / (4 s2 (2 s2 + n tau2))).
    n, tau2, alpha = 400, 0.05**2, 0.05
    champion = np.array([1.0] * 280 + [0.0] * 120)  # 0.70
    challenger = np.array([1.0] * 312 + [0.0] * 88)  # 0.78
    state = sequential_test("continuous", min_lift=0.05, alpha=alpha, min_samples=400)
    found = fold_outcomes(state, champion, challenger).look()
    # s2: the arms' own variances, or the variance of all their outcomes (what "no
    # difference" implies) when that is larger, as here
    both = np.concatenate([champion, challenger]).var(ddof=1)
    s2 = max((champion.var(ddof=1) + challenger.var(ddof=1)) / 2, both)
    assert s2 == both
    d = 0.08
    ratio = math.sqrt(2 * s2 / (2 * s2 + n * tau2)) * math.exp(
        n**2 * tau2 * d**2 / (4 * s2 * (2 * s2 + n * tau2))
    )
    assert found.difference == pytest.approx(d)
    assert found.p_value == pytest.approx(min(1.0, 1 / ratio), rel=1e-9)
    # the interval's ends are where the ratio of d - theta is exactly 1/alpha
    for end in (found.low, found.high):
        shifted = d - end
        at_end = math.sqrt(2 * s2 / (2 * s2 + n * tau2)) * math.exp(
            n**2 * tau2 * shifted**2 / (4 * s2 * (2 * s2 + n * tau2))
        )
        assert at_end == pytest.approx(1 / alpha, rel=1e-9)
    assert (found.p_value <= alpha) == (found.low > 0)
    assert found.verdict == (Verdict.CHALLENGER_BETTER if found.low > 0 else Verdict.UNDECIDED)


def test_the_p_value_reaches_alpha_exactly_when_the_interval_leaves_out_zero() -> None:
    pool = correctness()
    state = sequential_test("bernoulli", min_lift=0.02)
    found = simulate(state, pool, lifted(pool, 0.02, seed=9), tests=TESTS, batches=60, seed=10)
    winners = np.isin(found.verdict, WINNERS)
    excludes_zero = (found.low > 0) | (found.high < 0)
    assert 0.1 < winners.mean() < 0.9  # both kinds of test are there
    assert np.array_equal(winners, excludes_zero)
