"""The gate measured like an instrument, with known answers: challengers with a
planted accuracy drop are blocked (power), challengers as good as the champion pass
(false alarms), a slice with a planted drop is named first, evaluations on different
rows are refused, and a real model trained on flipped labels is blocked.

The power and false-alarm trials simulate each row's correctness for the two models
directly (which of the four cells — both right, only the champion, only the
challenger, neither — a row falls in), then run the real comparison and gate on them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import ColumnPrediction
from gate_cases import ROWS, candidate, paired_accuracy, segment_rows

from loopml.errors import InvalidInput
from loopml.evaluation import Evaluation, evaluate, gate
from loopml.evaluation._paired import p_worse
from loopml.evaluation._records import Paired

TRIALS = 1_000


def simulated(rng: np.random.Generator, drop: float, disagree: float) -> Evaluation:
    """A challenger's evaluation against a champion 85% accurate on ROWS rows: the two
    disagree on ``disagree`` of the rows, and the challenger is ``drop`` less accurate."""
    return candidate(
        Paired("churn@v1", ROWS, paired_accuracy(rng, drop, disagree)),
        "accuracy",
        baseline={"accuracy": 0.5},
        baseline_description="class prior",
        model="churn@v2",
    )


def champion_blocks(evaluation: Evaluation) -> bool:
    decision = gate(evaluation, record=False, stop=False)
    return not {c.name: c.passed for c in decision.checks}["champion"]


def test_a_three_point_drop_is_blocked_and_an_equal_challenger_passes() -> None:
    rng = np.random.default_rng(20_261_206)
    blocked = sum(champion_blocks(simulated(rng, 0.03, 0.10)) for _ in range(TRIALS))
    passed = sum(not champion_blocks(simulated(rng, 0.0, 0.10)) for _ in range(TRIALS))
    assert blocked / TRIALS >= 0.90, f"power {blocked / TRIALS:.3f}"
    assert passed / TRIALS >= 0.95, f"pass rate {passed / TRIALS:.3f}"


def test_a_drop_within_the_tolerance_passes() -> None:
    rng = np.random.default_rng(7)
    # A one-point drop on 1,000 rows, with a tolerance of 2% of the champion's 0.85.
    results = [simulated(rng, 0.01, 0.10) for _ in range(100)]
    tolerant = [gate(r, {"champion_tolerance": 0.02}, record=False, stop=False) for r in results]
    assert sum(not d.passed for d in tolerant) <= 5
    # McNemar's test generalised to a tolerance: exactly the binomial tail at the share
    # of disagreements a 0.017 drop would put against the challenger.
    from scipy.stats import binomtest

    paired = results[0].paired
    assert paired is not None
    found = paired.metrics["accuracy"]
    share = (1 + 0.017 * ROWS / (found.worse + found.better)) / 2
    expected = binomtest(found.worse, found.worse + found.better, share, alternative="greater")
    assert p_worse(found, 0.017) == pytest.approx(expected.pvalue)


def test_a_slice_with_a_ten_point_drop_is_named_first() -> None:
    rng = np.random.default_rng(11)
    named_first = 0
    for _ in range(20):
        rows = segment_rows(rng)
        found = evaluate(
            ColumnPrediction("challenger"),
            rows,
            label="y",
            task="classification",
            against=ColumnPrediction("champion"),
            slice_columns=["segment", "x"],
            record=False,
        )
        # Any loss on a slice is one, with no tolerance: the drop is found every time.
        strict = gate(found, {"slice_tolerance": 0}, record=False, stop=False)
        check = {c.name: c for c in strict.checks}["slices"]
        assert not check.passed
        named_first += "the most lost first: segment=a (300 rows)" in check.message
    assert named_first >= 19


def test_tiny_slices_are_said_to_be_too_small_to_judge() -> None:
    rng = np.random.default_rng(3)
    rows = segment_rows(rng).head(200).assign(segment=lambda t: [f"s{i % 8}" for i in t.index])
    found = evaluate(
        ColumnPrediction("challenger"),
        rows,
        label="y",
        task="classification",
        against=ColumnPrediction("champion"),
        slice_columns=["segment"],
        record=False,
    )
    check = {c.name: c for c in gate(found, record=False, stop=False).checks}["slices"]
    assert check.message == (
        "cannot judge: every slice is too small (8 slice(s) under 30 rows), so no slice "
        "regression can be shown or ruled out"
    )


def test_evaluations_on_different_rows_are_refused() -> None:
    rng = np.random.default_rng(5)
    rows = segment_rows(rng)
    champion = evaluate(
        ColumnPrediction("champion"), rows, label="y", task="classification", record=False
    )
    candidate = evaluate(
        ColumnPrediction("challenger"),
        rows.head(800),
        label="y",
        task="classification",
        against=ColumnPrediction("champion"),
        record=False,
    )
    with pytest.raises(
        InvalidInput,
        match=r"on 800 rows of a DataFrame and the champion on "
        r"1,000 rows of a DataFrame \(200 rows fewer for the candidate\)",
    ):
        gate(candidate, champion=champion, record=False)
    shuffled = rows.sample(frac=1.0, random_state=0).reset_index(drop=True)
    same = evaluate(
        ColumnPrediction("challenger"),
        shuffled,
        label="y",
        task="classification",
        against=ColumnPrediction("champion"),
        record=False,
    )
    assert same.rows_digest == champion.rows_digest  # the same rows, in another order
    gate(same, champion=champion, record=False, stop=False)  # compared, not refused
    other = rows.assign(x=rows["x"] + 1.0)
    moved = evaluate(
        ColumnPrediction("challenger"),
        other,
        label="y",
        task="classification",
        against=ColumnPrediction("champion"),
        record=False,
    )
    with pytest.raises(InvalidInput, match="the same number of rows, but not the same rows"):
        gate(moved, champion=champion, record=False)


def test_an_old_evaluation_without_a_paired_comparison_cannot_be_judged() -> None:
    rng = np.random.default_rng(5)
    old = dataclasses.replace(simulated(rng, 0.0, 0.1), paired=None)
    stored = Evaluation.from_dict({**old.to_dict(), "paired": None})
    assert stored.paired is None
    decision = gate(stored, champion=old, record=False, stop=False)
    assert {c.name: c.message for c in decision.checks if not c.passed}["champion"] == (
        "cannot judge: the candidate's evaluation holds no row-by-row comparison with "
        "churn@v2 (it was made without against=, or before loopml recorded one); evaluate "
        "the candidate again with against='churn@v2', on the same rows"
    )
    keys = set(old.to_dict()) - {"rows_digest", "paired", "paired_baseline"}
    older = Evaluation.from_dict({k: v for k, v in old.to_dict().items() if k in keys})
    assert older.rows_digest is None
    assert older.paired_baseline == {}


def test_a_model_tied_with_its_baseline_does_not_pass() -> None:
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 300)
    # Right on the majority class always, and on 3 more rows than the baseline.
    truth = pd.DataFrame({"y": np.r_[np.ones(200, int), np.zeros(100, int)]})
    guess = truth["y"].to_numpy().copy()
    guess[200:203] = 0
    guess[203:] = 1
    tied = truth.assign(guess=guess, noise=y)
    found = evaluate(
        ColumnPrediction("guess"), tied, label="y", task="classification", record=False
    )
    check = gate(found, record=False, stop=False).checks[0]
    assert found.metrics["accuracy"] > found.baseline["accuracy"]  # ahead, by 3 rows of 300
    assert not check.passed
    assert "not shown to beat it by more than 0 (0%): p = 0.12" in check.message


def test_real_models_one_trained_on_flipped_labels_is_blocked() -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=1)
    flipped = np.random.default_rng(0).random(len(y_train)) < 0.15
    noisy = y_train.where(~flipped, 1 - y_train)

    def fit(labels: pd.Series) -> object:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
        return model.fit(X_train, labels)

    champion, challenger = fit(y_train), fit(noisy)
    held_out = X_test.assign(label=y_test)
    champion_eval = evaluate(champion, held_out, label="label", record=False)
    found = evaluate(challenger, held_out, label="label", against=champion, record=False)
    decision = gate(found, champion=champion_eval, record=False, stop=False)
    failed = {c.name for c in decision.checks if not c.passed}
    assert "champion" in failed, decision.summary()
    # Retrained on the true labels, it passes.
    again = evaluate(fit(y_train), held_out, label="label", against=champion, record=False)
    assert gate(again, champion=champion_eval, record=False).passed
