"""Perturbation sensitivity and calibration with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import ColumnProbability, Regressor, ThresholdModel, ValueModel

from loopml.evaluation import evaluate
from loopml.evaluation._perturb import SAMPLE_ROWS


def test_an_ignored_feature_has_no_sensitivity_and_a_used_one_has_its_share(
    test_rows: pd.DataFrame,
) -> None:
    result = evaluate(ThresholdModel("x0"), test_rows, label="churn", record=False)
    shares = result.perturbation
    assert shares["x1"] == shares["noise"] == shares["plan"] == shares["region"] == 0.0
    x0 = test_rows["x0"].to_numpy()
    step = 0.1 * x0.std(ddof=1)
    # "yes" above 0: moving up flips the rows in (-step, 0], moving down those in (0, step]
    flipped = ((x0 <= 0) & (x0 + step > 0)) | ((x0 > 0) & (x0 - step <= 0))
    assert shares["x0"] == pytest.approx(flipped.mean())
    assert shares["x0"] > 0.05


def test_a_categorical_feature_is_swapped_for_the_most_frequent_other_value() -> None:
    plans = np.array(["basic"] * 500 + ["pro"] * 300 + ["team"] * 200)
    frame = pd.DataFrame({"plan": plans, "x": np.arange(1_000.0), "churn": "no"})
    result = evaluate(ValueModel("plan", "pro"), frame, label="churn", record=False)
    # basic -> pro (changes), pro -> basic (changes), team -> basic (stays "no")
    assert result.perturbation["plan"] == pytest.approx(0.8)
    assert result.perturbation["x"] == 0.0


def test_a_regressor_changes_when_its_input_moves_by_more_than_a_hair() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    frame["y"] = frame["a"] + rng.normal(0, 0.1, size=500)
    result = evaluate(Regressor("a"), frame, label="y", record=False)
    assert result.perturbation == {"a": 1.0, "b": 0.0}


def test_perturbation_uses_a_sample_of_large_data() -> None:
    rng = np.random.default_rng(10)
    n = SAMPLE_ROWS + 2_000
    frame = pd.DataFrame({"x0": rng.normal(size=n), "churn": "no"})
    result = evaluate(ThresholdModel("x0"), frame, label="churn", record=False)
    assert 0.04 < result.perturbation["x0"] < 0.12  # P(|x0| < 0.1) is about 0.08


# -- calibration ----------------------------------------------------------------------------


def calibration_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, size=n)
    return pd.DataFrame({"p": p, "y": (rng.uniform(size=n) < p).astype(int)})


def test_a_calibrated_model_has_a_small_ece_and_an_over_confident_one_a_large_one() -> None:
    rows = calibration_rows(20_000, seed=11)
    honest = evaluate(ColumnProbability(1.0), rows, label="y", record=False)
    boastful = evaluate(ColumnProbability(4.0), rows, label="y", record=False)
    assert honest.calibration is not None
    assert boastful.calibration is not None
    assert honest.metrics["ece"] == honest.calibration["ece"] < 0.015
    assert boastful.metrics["ece"] > 0.1
    curve = honest.calibration["curve"]
    assert len(curve) == 10
    assert sum(n for _, _, n in curve) == len(rows)
    for b, (mean_p, share, _) in enumerate(curve):
        assert b / 10 <= mean_p < (b + 1) / 10
        assert share == pytest.approx(mean_p, abs=0.05)
    assert honest.calibration["of"] == "P(class '1')"


def test_a_model_without_probabilities_has_no_calibration(test_rows: pd.DataFrame) -> None:
    result = evaluate(ValueModel("plan", "pro"), test_rows, label="churn", record=False)
    assert result.calibration is None
    assert "ece" not in result.metrics
    assert "roc_auc" not in result.metrics
