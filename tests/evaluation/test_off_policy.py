"""Off-policy estimates: known answers on small logs, clear errors, and the estimates
measured like instruments — coverage, bias and standard errors over 200 logs made from
real labelled data, and the controller's own case, arms routed by loopml's router."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from bandit_logs import Policies, digits_policies, logged

from loopml.errors import InvalidInput
from loopml.evaluation import (
    OffPolicyEstimate,
    cross_fit_rewards,
    doubly_robust,
    ips,
    snips,
)

Z95 = 1.959963984540054

# A log of four requests over two arms and a target that sends everything to arm 0.
REWARDS = [1.0, 0.0, 1.0, 1.0]
ACTIONS = [0, 1, 1, 0]
PROPENSITIES = [0.5, 0.5, 0.25, 0.75]
ALWAYS_FIRST = [[1.0, 0.0]] * 4


def test_ips_of_a_small_log_is_the_mean_of_weighted_rewards() -> None:
    found = ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST)
    terms = np.array([1 / 0.5, 0.0, 0.0, 1 / 0.75])
    assert found.method == "ips"
    assert found.value == pytest.approx(terms.mean())
    assert found.standard_error == pytest.approx(terms.std(ddof=1) / 2)
    assert found.interval.low == pytest.approx(terms.mean() - Z95 * found.standard_error)
    assert found.interval.high == pytest.approx(terms.mean() + Z95 * found.standard_error)
    assert found.interval.level == 0.95
    assert found.effective_rows == pytest.approx((2 + 4 / 3) ** 2 / (4 + 16 / 9))
    assert found.max_weight == 2.0
    assert found.mean_weight == pytest.approx(10 / 12)
    assert not found.reliable  # two rows carry all the weight


def test_on_policy_every_estimate_is_the_mean_reward() -> None:
    rng = np.random.default_rng(3)
    logging = rng.dirichlet([1.0, 1.0, 1.0], size=300)
    actions = np.array([rng.choice(3, p=row) for row in logging])
    rewards = rng.random(300)
    propensities = logging[np.arange(300), actions]
    mean, error = rewards.mean(), rewards.std(ddof=1) / math.sqrt(300)
    for found in (
        ips(rewards, actions, propensities, logging),
        snips(rewards, actions, propensities, logging),
    ):
        assert found.value == pytest.approx(mean)
        assert found.standard_error == pytest.approx(error, rel=0.01)
        assert found.effective_rows == pytest.approx(300)
        assert found.reliable


def test_doubly_robust_with_the_true_rewards_is_the_target_value_of_the_logged_rows(
    policies: Policies,
) -> None:
    log = logged(policies, 400, seed=5)
    labels = policies.labels[log.rows]
    truth = np.eye(policies.target.shape[1])[labels]  # reward 1 for the true class only
    target = policies.target[log.rows]
    found = doubly_robust(log.rewards, log.actions, log.propensities, target, truth)
    assert found.value == pytest.approx(target[np.arange(400), labels].mean(), abs=1e-12)


def test_doubly_robust_with_a_model_of_zeros_is_ips() -> None:
    zeros = np.zeros((4, 2))
    found = doubly_robust(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST, zeros)
    plain = ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST)
    assert found.method == "dr"
    assert (found.value, found.standard_error) == pytest.approx((plain.value, plain.standard_error))


def test_clipping_caps_the_weights_and_says_how_many_rows_it_cut() -> None:
    found = ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST, clip=1.5)
    assert found.value == pytest.approx((1.5 + 4 / 3) / 4)
    assert (found.clip, found.clipped_rows) == (1.5, 1)
    assert found.max_weight == 2.0  # the weights before clipping
    unclipped = ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST)
    assert (unclipped.clip, unclipped.clipped_rows) == (None, 0)
    assert ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST, clip=math.inf) == unclipped


def test_the_level_sets_the_width_of_the_interval() -> None:
    wide = ips(REWARDS * 50, ACTIONS * 50, PROPENSITIES * 50, ALWAYS_FIRST * 50, level=0.99)
    usual = ips(REWARDS * 50, ACTIONS * 50, PROPENSITIES * 50, ALWAYS_FIRST * 50)
    assert wide.value == usual.value
    assert wide.interval.level == 0.99
    ratio = (wide.interval.high - wide.interval.low) / (usual.interval.high - usual.interval.low)
    assert ratio == pytest.approx(2.5758293035489 / Z95)


def test_the_estimate_round_trips_through_json() -> None:
    found = ips(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST, clip=1.5)
    assert found.warnings
    assert OffPolicyEstimate.from_dict(json.loads(json.dumps(found.to_dict()))) == found


def test_weights_that_do_not_average_one_are_flagged() -> None:
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, 2_000)  # routed 50/50...
    target = np.tile([0.5, 0.5], (2_000, 1))
    logged_wrong = np.where(actions == 0, 0.5, 0.25)  # ...but logged as 50/25
    found = ips(np.ones(2_000), actions, logged_wrong, target)
    assert any("average" in warning for warning in found.warnings)


BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("zero propensity", {"propensities": [0.5, 0.0, 0.25, 0.75]}, "propensities", "(0, 1]"),
    ("propensity above 1", {"propensities": [0.5, 1.5, 0.25, 0.75]}, "propensities", "row 1"),
    ("NaN propensity", {"propensities": [0.5, math.nan, 0.25, 0.75]}, "propensities", "NaN"),
    ("NaN reward", {"rewards": [1.0, math.nan, 1.0, 1.0]}, "rewards", "NaN"),
    ("NaN target", {"target": [[1.0, 0.0]] * 3 + [[math.nan, 0.0]]}, "target", "NaN"),
    ("short actions", {"actions": [0, 1, 1]}, "actions", "one action index"),
    ("short propensities", {"propensities": [0.5, 0.5]}, "propensities", "one number"),
    ("target rows", {"target": [[1.0, 0.0]] * 3}, "target", "(4, actions)"),
    ("target of one column", {"target": [1.0, 1.0, 1.0, 1.0]}, "target", "(4, actions)"),
    ("row not summing to 1", {"target": [[1.0, 0.0]] * 3 + [[0.6, 0.6]]}, "target", "sums to"),
    ("negative probability", {"target": [[1.5, -0.5]] * 4}, "target", "[0, 1]"),
    ("action beyond target", {"actions": [0, 1, 2, 0]}, "actions", "not one of the 2"),
    ("negative action", {"actions": [0, -1, 1, 0]}, "actions", "row 1"),
    ("fractional action", {"actions": [0, 0.5, 1, 0]}, "actions", "integer"),
    ("text rewards", {"rewards": ["a", "b", "c", "d"]}, "rewards", "numbers"),
    ("one request", {"rewards": [1.0]}, "rewards", "at least 2"),
    ("bad clip", {"clip": 0}, "clip", "positive"),
    ("bad level", {"level": 95}, "level", "between 0 and 1"),
]


@pytest.mark.parametrize(("change", "field", "words"), [c[1:] for c in BAD_INPUTS])
def test_bad_input_names_the_field(change: dict[str, Any], field: str, words: str) -> None:
    arguments: dict[str, Any] = {
        "rewards": REWARDS,
        "actions": ACTIONS,
        "propensities": PROPENSITIES,
        "target": ALWAYS_FIRST,
        **change,
    }
    for estimate in (ips, snips):
        with pytest.raises(InvalidInput) as raised:
            estimate(**arguments)
        assert raised.value.field == field
        assert words in str(raised.value)


def test_a_target_that_takes_an_action_never_logged_is_refused() -> None:
    target = [[0.5, 0.5, 0.0]] * 3 + [[0.0, 0.5, 0.5]]
    with pytest.raises(InvalidInput, match="action 2 a positive probability") as raised:
        ips(REWARDS, ACTIONS, PROPENSITIES, target)
    assert raised.value.field == "target"


def test_snips_refuses_a_target_that_never_takes_a_logged_action() -> None:
    target = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(InvalidInput, match="divides by zero") as raised:
        snips(REWARDS, ACTIONS, PROPENSITIES, target)
    assert raised.value.field == "target"
    assert ips(REWARDS, ACTIONS, PROPENSITIES, target).value == 0.0


@pytest.mark.parametrize(
    ("predicted", "words"),
    [(np.zeros((4, 3)), "(4, 3)"), (np.full((4, 2), math.nan), "NaN"), (np.zeros(4), "(4,)")],
)
def test_predicted_rewards_must_match_the_target(predicted: Any, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        doubly_robust(REWARDS, ACTIONS, PROPENSITIES, ALWAYS_FIRST, predicted)
    assert raised.value.field == "predicted_rewards"
    assert words in str(raised.value)


def test_cross_fitting_never_predicts_a_row_from_itself() -> None:
    from sklearn.neighbors import KNeighborsRegressor

    rng = np.random.default_rng(1)
    contexts = np.arange(200.0).reshape(-1, 1)
    actions = rng.integers(0, 2, 200)
    rewards = rng.permutation(200).astype(np.float64)  # every reward tells its row
    nearest = KNeighborsRegressor(n_neighbors=1)
    predicted = cross_fit_rewards(contexts, actions, rewards, model=nearest, folds=4)
    assert predicted.shape == (200, 2)
    for a in (0, 1):
        assert set(predicted[:, a]) <= set(rewards[actions == a])
    own = predicted[np.arange(200), actions]
    assert not np.any(own == rewards)  # fit in sample, 1-NN would give every row its own


def test_an_action_with_no_rows_to_learn_from_gets_the_mean_reward_of_the_other_folds() -> None:
    rng = np.random.default_rng(2)
    contexts = rng.normal(size=(120, 3))
    actions = rng.integers(0, 2, 120)
    rewards = (rng.random(120) < 0.3).astype(np.float64)
    predicted = cross_fit_rewards(contexts, actions, rewards, n_actions=3, folds=2)
    assert ((predicted[:, :2] >= 0) & (predicted[:, :2] <= 1)).all()  # probabilities
    means = np.unique(predicted[:, 2])
    assert len(means) == 2
    for value in means:  # a fold's constant is the mean reward of the other fold
        assert rewards[predicted[:, 2] != value].mean() == pytest.approx(value)


def test_text_contexts_need_a_model_that_encodes_them() -> None:
    import pandas as pd

    contexts = pd.DataFrame(
        {"spend": np.arange(40.0), "plan": ["basic", "basic", "pro", "pro"] * 10}
    )
    actions, rewards = np.arange(40) % 2, (np.arange(40) % 3 == 0).astype(np.float64)
    with pytest.raises(InvalidInput, match=r"column\(s\) plan are not numbers") as raised:
        cross_fit_rewards(contexts, actions, rewards, folds=2)
    assert raised.value.field == "contexts"
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoded = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
    )
    model = make_pipeline(encoded, LogisticRegression(max_iter=1_000))
    predicted = cross_fit_rewards(contexts, actions, rewards, model=model, folds=2)
    assert predicted.shape == (40, 2)
    assert ((predicted >= 0) & (predicted <= 1)).all()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contexts": np.zeros((10, 2))}, "contexts"),
        ({"contexts": np.full((40, 2), math.nan)}, "contexts"),
        ({"contexts": np.array([["a", "b"]] * 40)}, "contexts"),
        ({"folds": 1}, "folds"),
        ({"n_actions": 0}, "n_actions"),
        ({"n_actions": 1}, "actions"),
        ({"rewards": np.full(40, math.nan)}, "rewards"),
    ],
)
def test_cross_fitting_names_a_bad_input(change: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "contexts": np.zeros((40, 2)),
        "actions": np.arange(40) % 2,
        "rewards": np.ones(40),
        **change,
    }
    with pytest.raises(InvalidInput) as raised:
        cross_fit_rewards(**arguments)
    assert raised.value.field == field


# -- Measured on real data ------------------------------------------------------------

SPLITS, LOGS_PER_SPLIT, REQUESTS = 5, 40, 600


@pytest.fixture(scope="module")
def policies() -> Policies:
    return digits_policies(0)


@dataclass(frozen=True)
class Measured:
    """One method's estimates over the simulated logs, each against its true value."""

    errors: np.ndarray
    standard_errors: np.ndarray
    covered: np.ndarray
    warned: np.ndarray

    @property
    def bias_error(self) -> float:  # the standard error of the mean error
        return float(self.errors.std(ddof=1) / math.sqrt(len(self.errors)))


def _measured(found: list[OffPolicyEstimate], truths: list[float]) -> Measured:
    return Measured(
        errors=np.array([f.value - t for f, t in zip(found, truths, strict=True)]),
        standard_errors=np.array([f.standard_error for f in found]),
        covered=np.array(
            [f.interval.low <= t <= f.interval.high for f, t in zip(found, truths, strict=True)]
        ),
        warned=np.array([not f.reliable for f in found]),
    )


@pytest.fixture(scope="module")
def digits_logs() -> dict[str, Measured]:
    """200 logs of 600 requests: 5 random splits of digits (0 to 4), 40 logs each; the
    reward model of DR cross-fit on each log (2 folds, a ridge regression per action)."""
    from sklearn.linear_model import Ridge

    found: dict[str, list[OffPolicyEstimate]] = {"ips": [], "snips": [], "dr": [], "misfit": []}
    truths: list[float] = []
    for split in range(SPLITS):
        policies = digits_policies(split)
        for seed in range(LOGS_PER_SPLIT):
            log = logged(policies, REQUESTS, seed=split * 1_000 + seed)
            target = policies.target[log.rows]
            given = (log.rewards, log.actions, log.propensities, target)
            predicted = cross_fit_rewards(
                policies.contexts[log.rows], log.actions, log.rewards,
                n_actions=target.shape[1], model=Ridge(), folds=2, seed=seed,
            )  # fmt: skip
            found["ips"].append(ips(*given))
            found["snips"].append(snips(*given))
            found["dr"].append(doubly_robust(*given, predicted))
            # The same requests logged as if routed uniformly: wrong propensities.
            uniform = np.full(REQUESTS, 1 / target.shape[1])
            found["misfit"].append(ips(log.rewards, log.actions, uniform, target))
            truths.append(policies.true_value)
    return {method: _measured(estimates, truths) for method, estimates in found.items()}


@pytest.mark.parametrize("method", ["ips", "snips", "dr"])
def test_intervals_cover_the_true_value_about_95_percent_of_the_time(
    digits_logs: dict[str, Measured], method: str
) -> None:
    coverage = digits_logs[method].covered.mean()
    assert 0.90 <= coverage <= 0.99  # measured: ips 0.960, snips 0.955, dr 0.940


@pytest.mark.parametrize("method", ["ips", "snips", "dr"])
def test_estimates_are_unbiased_and_their_standard_errors_honest(
    digits_logs: dict[str, Measured], method: str
) -> None:
    measured = digits_logs[method]
    # measured: bias +0.0009 ± 0.0025 (ips), +0.0002 ± 0.0010 (snips), +0.0012 ± 0.0009 (dr)
    assert abs(measured.errors.mean()) < 3 * measured.bias_error
    spread = measured.errors.std(ddof=1)  # the stated error against the actual spread
    assert measured.standard_errors.mean() == pytest.approx(spread, rel=0.2)


def test_doubly_robust_is_more_precise_than_ips(digits_logs: dict[str, Measured]) -> None:
    dr, plain = digits_logs["dr"].standard_errors, digits_logs["ips"].standard_errors
    assert (dr < plain).mean() >= 0.95  # measured: every log
    assert np.median(dr / plain) < 0.5  # measured: 0.32 (0.012 against 0.036)


def test_right_logs_raise_no_warning_and_wrong_propensities_do(
    digits_logs: dict[str, Measured],
) -> None:
    for method in ("ips", "snips", "dr"):
        assert digits_logs[method].warned.mean() <= 0.02  # measured: none of 200
    assert digits_logs["misfit"].warned.mean() >= 0.9  # measured: all of 200


# -- The controller's case: arms routed by loopml's router ----------------------------


@pytest.fixture(scope="module")
def arm_correctness() -> np.ndarray:
    """(3 arms, 569 rows): whether each of three models of scikit-learn's bundled
    breast-cancer data gets each row right, predicted out of fold."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_breast_cancer(return_X_y=True)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression()),
        GaussianNB(),
        DecisionTreeClassifier(max_depth=1),
    ]
    return np.array([cross_val_predict(m, features, labels, cv=5) == labels for m in models])


@pytest.mark.parametrize(("routing", "requests"), [("fixed", 800), ("epsilon-greedy", 1_500)])
def test_all_traffic_to_one_arm_is_estimated_within_its_interval(
    arm_correctness: np.ndarray, routing: str, requests: int
) -> None:
    from loopml.serve import Router

    correct = arm_correctness.astype(np.float64)
    arms, rows = correct.shape
    truths = correct.mean(axis=1)  # 0.981, 0.938, 0.903
    found: dict[tuple[str, int], list[OffPolicyEstimate]] = {}
    for seed in range(200):
        rng = np.random.default_rng(seed)
        router = Router(["a@v1", "b@v1", "c@v1"], [0.5, 0.3, 0.2], routing=routing,
                        epsilon=0.3, seed=seed)  # fmt: skip
        actions, propensities = np.empty(requests, np.intp), np.empty(requests)
        rewards = np.empty(requests)
        for i, row in enumerate(rng.integers(0, rows, requests)):
            actions[i], propensities[i] = router.choose()
            rewards[i] = correct[actions[i], row]
            router.reward(int(actions[i]), rewards[i])
        for arm in range(arms):
            everything_to_arm = np.zeros((requests, arms))
            everything_to_arm[:, arm] = 1.0
            for estimate in (ips, snips):
                found.setdefault((estimate.__name__, arm), []).append(
                    estimate(rewards, actions, propensities, everything_to_arm)
                )
    for (method, arm), estimates in found.items():
        measured = _measured(estimates, [float(truths[arm])] * len(estimates))
        # measured, arms 0-2: ips fixed 0.940, 0.935, 0.950, epsilon-greedy 0.945, 0.975,
        # 0.970; snips fixed 0.920, 0.960, 0.950, epsilon-greedy 0.940, 0.920, 0.945
        assert measured.covered.mean() >= 0.90, (method, arm)
        assert abs(measured.errors.mean()) < 3 * measured.bias_error + 1e-9, (method, arm)
        assert not measured.warned.any(), (method, arm)
