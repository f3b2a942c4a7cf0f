"""The sequential A/B test's state: a controller that is stopped and restarted between
any two looks reaches the same verdicts at the same looks; the vectorised looks of the
simulations are the folds a controller makes; a verdict stays once reached; and bad
settings, outcomes or stored states are refused naming the field and the fix."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from sequential_pools import correctness, lifted, true_class_probability

from loopml.errors import InvalidInput
from loopml.evaluation import (
    ArmTotals,
    SequentialResult,
    SequentialState,
    Verdict,
    fold_outcomes,
    sequential_test,
)
from loopml.evaluation import _mixture as mixture
from loopml.evaluation._sequential import CODE_OF_VERDICT


def batches(
    champion: np.ndarray, challenger: np.ndarray, looks: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``looks`` batches of resampled outcomes, of uneven sizes (live feedback)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 200, size=(looks, 2))
    sizes[sizes.sum(axis=1) == 0, 0] = 1
    return [
        (rng.choice(champion, size=a), rng.choice(challenger, size=b)) for a, b in sizes.tolist()
    ]


def stored(state: SequentialState) -> SequentialState:
    """``state`` written as JSON text and read back, as a restarted controller does."""
    return SequentialState.from_dict(json.loads(json.dumps(state.to_dict(), allow_nan=False)))


@pytest.mark.parametrize(
    ("kind", "lift", "seed"),
    [("bernoulli", 0.05, 1), ("bernoulli", 0.0, 2), ("continuous", 0.04, 3)],
)
def test_a_restarted_test_reaches_the_same_verdict_at_the_same_look(
    kind: str, lift: float, seed: int
) -> None:
    pool = correctness() if kind == "bernoulli" else true_class_probability()
    better = lifted(pool, lift, seed) if kind == "bernoulli" else np.minimum(pool + lift, 1.0)
    looks = batches(pool, better, 300, seed)
    straight = restarted = sequential_test(kind, min_lift=0.02)
    restarts = np.random.default_rng(seed).random(len(looks)) < 0.3
    for (champion, challenger), restart in zip(looks, restarts, strict=True):
        straight = fold_outcomes(straight, champion, challenger)
        restarted = fold_outcomes(restarted, champion, challenger)
        if restart:
            restarted = stored(restarted)
        assert restarted == straight
        assert restarted.look() == straight.look()
    if lift:
        assert straight.verdict == Verdict.CHALLENGER_BETTER
        assert straight.decided_at is not None
        assert straight.decided_at < len(looks)


def test_the_vectorised_looks_are_the_folds_a_controller_makes() -> None:
    pool = correctness()
    better = lifted(pool, 0.04, seed=4)
    rng = np.random.default_rng(5)
    tests, looks, size = 20, 60, 50
    drawn_a = rng.choice(pool, size=(tests, looks, size))
    drawn_b = rng.choice(better, size=(tests, looks, size))
    state = sequential_test("bernoulli", min_lift=0.02)
    running = mixture.Running(
        np.ones(tests), np.full(tests, -np.inf), np.full(tests, np.inf),
        np.zeros(tests, dtype=np.int8), np.zeros(tests, dtype=np.int64),
    )  # fmt: skip
    folded = [state] * tests
    for look in range(looks):
        counts = np.full(tests, (look + 1.0) * size)
        arms = [
            (counts, d[:, : look + 1].sum(axis=(1, 2)), (d[:, : look + 1] ** 2).sum(axis=(1, 2)))
            for d in (drawn_a, drawn_b)
        ]
        running, _, _ = mixture.advance(state.design, arms[0], arms[1], running, look + 1)
        folded = [
            fold_outcomes(s, drawn_a[i, look], drawn_b[i, look]) for i, s in enumerate(folded)
        ]
    verdicts = [s.verdict for s in folded]
    assert 0 < verdicts.count(Verdict.CHALLENGER_BETTER) < tests  # both kinds are there
    for i, s in enumerate(folded):
        assert int(running.verdict[i]) == CODE_OF_VERDICT[s.verdict]
        assert int(running.decided_at[i]) == (s.decided_at or 0)
        assert running.p_value[i] == s.p_value
        assert (running.low[i], running.high[i]) == (s.low, s.high)


def test_a_verdict_stays_once_reached_and_the_evidence_only_narrows() -> None:
    state = sequential_test("bernoulli", min_lift=0.05)
    wins, losses = np.array([1.0] * 75 + [0.0] * 25), np.array([1.0] * 65 + [0.0] * 35)
    trail = [state]
    while state.verdict == Verdict.UNDECIDED and state.looks < 20:
        state = fold_outcomes(state, champion=losses, challenger=wins)
        trail.append(state)
    assert state.verdict == Verdict.CHALLENGER_BETTER
    assert state.decided_at == state.looks > 1
    decided_at = state.decided_at
    for _ in range(5):  # the challenger now loses: the stopped test does not turn
        state = fold_outcomes(state, champion=wins, challenger=losses)
        trail.append(state)
    assert state.verdict == Verdict.CHALLENGER_BETTER
    assert state.decided_at == decided_at
    for before, after in itertools.pairwise(trail):
        assert after.p_value <= before.p_value
        assert before.low <= after.low
        assert after.high <= before.high


def test_no_look_decides_before_each_arm_has_min_samples() -> None:
    state = sequential_test("bernoulli", min_lift=0.02, min_samples=100)
    state = fold_outcomes(state, champion=np.zeros(99), challenger=np.ones(500))
    assert (state.verdict, state.p_value, state.low, state.high) == (
        Verdict.UNDECIDED, 1.0, -math.inf, math.inf,
    )  # fmt: skip
    assert state.look().to_dict()["low"] is None
    state = fold_outcomes(state, champion=[0.0], challenger=[])
    assert state.verdict == Verdict.CHALLENGER_BETTER
    assert state.decided_at == 2


def test_arms_equal_to_within_the_smallest_lift_are_equivalent() -> None:
    same = np.tile([1.0, 1.0, 0.0], 10_000)  # 30,000 outcomes per arm, both 2/3
    state = fold_outcomes(sequential_test("bernoulli", min_lift=0.02), same, same)
    found = state.look()
    assert found.verdict == Verdict.EQUIVALENT
    assert -0.02 < found.low < 0 < found.high < 0.02
    assert found.p_value == 1.0


def test_a_lower_error_makes_the_challenger_better() -> None:
    rng = np.random.default_rng(6)
    state = sequential_test("continuous", min_lift=0.1, higher_is_better=False)
    errors = rng.exponential(1.0, 3_000)
    found = fold_outcomes(state, champion=errors, challenger=errors * 0.7).look()
    assert found.verdict == Verdict.CHALLENGER_BETTER
    assert found.difference is not None
    assert found.difference < 0
    assert found.high < 0
    flipped = sequential_test("continuous", min_lift=0.1, higher_is_better=True)
    assert fold_outcomes(flipped, errors, errors * 0.7).verdict == Verdict.CHAMPION_BETTER


def test_constant_outcomes_decide_only_on_a_difference() -> None:
    continuous = sequential_test("continuous", min_lift=0.5)
    tied = fold_outcomes(continuous, np.full(200, 3.0), np.full(200, 3.0))
    assert tied.p_value == 1.0
    assert tied.verdict == Verdict.EQUIVALENT
    apart = fold_outcomes(continuous, np.full(200, 3.0), np.full(200, 4.0))
    # each arm has no variance of its own; together their outcomes have some (what
    # "no difference" implies), and against it a difference of 1 is overwhelming
    assert apart.p_value < 1e-50
    assert apart.low < 1.0 < apart.high
    assert apart.verdict == Verdict.CHALLENGER_BETTER
    # all right in both arms: the smoothed variance keeps a variance, and no winner
    all_right = fold_outcomes(
        sequential_test("bernoulli", min_lift=0.02), np.ones(200), np.ones(200)
    )
    assert all_right.verdict == Verdict.EQUIVALENT
    assert all_right.p_value == 1.0
    assert -0.02 < all_right.low < 0 < all_right.high < 0.02


def test_the_evidence_is_json_and_states_its_design() -> None:
    state = sequential_test("bernoulli", min_lift=0.03, alpha=0.1)
    found = fold_outcomes(
        state, champion=[1.0] * 700 + [0.0] * 300, challenger=[1.0] * 800 + [0.0] * 200
    ).look()
    assert isinstance(found, SequentialResult)
    evidence = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    assert evidence["verdict"] == "challenger_better"
    assert evidence["mixing_variance"] == pytest.approx(0.03**2)
    assert (evidence["level"], evidence["champion_n"], evidence["challenger_mean"]) == (
        0.9,
        1000,
        0.8,
    )
    assert evidence["method"].startswith("mSPRT")
    assert found.message.startswith("challenger better: mean 0.8 against 0.7, difference +0.1")
    assert "90% always-valid interval" in found.message
    assert ArmTotals(2, 1.0, 1.0) + ArmTotals(1, 1.0, 1.0) == ArmTotals(3, 2.0, 2.0)


def test_an_empty_arm_has_no_mean_yet() -> None:
    found = fold_outcomes(sequential_test(min_lift=0.02), champion=[1.0, 0.0], challenger=[]).look()
    assert (found.challenger_n, found.challenger_mean, found.difference) == (0, None, None)
    assert found.message == "no decision yet: 2 champion and 0 challenger outcomes"


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"alpha": 0.0}, "alpha", "alpha 0.0 must be in (0, 0.5]"),
        ({"alpha": 0.6}, "alpha", "alpha 0.6 must be in (0, 0.5]"),
        ({"alpha": float("nan")}, "alpha", "must be a finite number"),
        ({"alpha": "0.05"}, "alpha", "'0.05' must be a finite number"),
        ({"min_lift": 0.0}, "min_lift", "min_lift 0.0 must be above 0"),
        ({"min_lift": 2.0}, "min_lift", "must be below 1 for bernoulli"),
        ({"kind": "binary"}, "kind", "'binary' is not one of bernoulli, continuous"),
        ({"min_samples": 1}, "min_samples", "min_samples 1 must be a whole number of 2"),
        ({"mixing_variance": -1.0}, "mixing_variance", "must be above 0"),
        ({"higher_is_better": "yes"}, "higher_is_better", "must be True or False"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        sequential_test(**{"min_lift": 0.02, **settings})
    assert raised.value.field == field
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("champion", "challenger", "field", "words"),
    [
        ([0.0, 1.0, 2.0], [1.0], "champion", "outcome 2 is 2.0, outside [0, 1]"),
        ([1.0], [1.0, float("nan")], "challenger", "outcome 1 is nan"),
        ([1.0], [float("inf")], "challenger", "outcome 0 is inf"),
        ([[1.0, 0.0]], [1.0], "champion", "shape (1, 2); give a flat sequence"),
        (["right"], [1.0], "champion", "are not numbers"),
        ([], [], "champion", "both arms' batches are empty"),
    ],
)
def test_bad_outcomes_are_refused(champion: Any, challenger: Any, field: str, words: str) -> None:
    state = sequential_test("bernoulli", min_lift=0.02)
    with pytest.raises(InvalidInput) as raised:
        fold_outcomes(state, champion, challenger)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_a_folded_state_must_be_a_state() -> None:
    state = sequential_test(min_lift=0.02)
    with pytest.raises(InvalidInput, match="is not a SequentialState"):
        fold_outcomes(state.to_dict(), [1.0], [0.0])  # type: ignore[arg-type]


def _changed(**changes: Any) -> dict[str, Any]:
    found = fold_outcomes(sequential_test(min_lift=0.02), [1.0, 0.0], [1.0]).to_dict()
    found.update(changes)
    return found


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (_changed(format=2), "format", "format 2 is not one this loopml reads (1); upgrade"),
        (_changed(format="1"), "format", "give format 1"),
        (_changed(alpah=0.05), "alpah", "unknown key(s) ['alpah']"),
        ({k: v for k, v in _changed().items() if k != "looks"}, "looks", "lacks ['looks']"),
        (_changed(alpha=0.9), "alpha", "alpha 0.9 must be in (0, 0.5]"),
        (_changed(champion={"n": -1, "total": 0.0, "squares": 0.0}), "champion.n", "-1"),
        (_changed(champion={"n": 2, "total": 3.0, "squares": 3.0}), "champion", "damaged"),
        (_changed(challenger={"n": 1, "total": 1.0}), "challenger", "exactly the keys"),
        (_changed(p_value=1.5), "p_value", "not in [0, 1]"),
        (_changed(low="x"), "low", "must be a finite number"),
        (_changed(verdict="winner"), "verdict", "'winner' is not one of"),
        (_changed(decided_at=1), "decided_at", "is None exactly while undecided"),
        (_changed(verdict="equivalent", decided_at=None), "decided_at", "undecided"),
        (_changed(verdict="equivalent", decided_at=5), "decided_at", "after the last look 1"),
        ([1, 2], "state", "a JSON object, not list"),
    ],
)
def test_a_stored_state_is_checked_on_load(data: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        SequentialState.from_dict(data)
    assert raised.value.field == field
    assert words in str(raised.value)
