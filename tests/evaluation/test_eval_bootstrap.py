"""Bootstrap intervals, latency and size, and the package's public names."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from evaluation_zoo import SlowModel, ThresholdModel, Unpicklable, churn_rows

import loopml.evaluation
from loopml.evaluation import evaluate
from loopml.evaluation._bootstrap import _binary_auc, _confusions, counts, resamples
from loopml.evaluation._predict import Predictions
from loopml.evaluation._scores import binary_auc
from loopml.models._flavors import encode


def width(low_high: object) -> float:
    return float(low_high.high - low_high.low)  # type: ignore[attr-defined]


def test_intervals_hold_the_estimate_and_narrow_with_more_rows() -> None:
    model = ThresholdModel("x0")
    few = evaluate(model, churn_rows(400, seed=14), label="churn", record=False)
    many = evaluate(model, churn_rows(6_400, seed=15), label="churn", record=False)
    for result in (few, many):
        for name in ("accuracy", "f1_macro", "roc_auc", "log_loss", "recall.yes"):
            interval = result.intervals[name]
            assert interval.low <= result.metrics[name] <= interval.high, name
            assert interval.level == 0.95
    for name in ("accuracy", "roc_auc", "log_loss"):
        # 16 times the rows: about a quarter of the width
        assert width(many.intervals[name]) < width(few.intervals[name]) / 2.5, name


def test_intervals_are_the_same_every_time() -> None:
    rows = churn_rows(500, seed=16)
    first = evaluate(ThresholdModel("x0"), rows, label="churn", record=False)
    again = evaluate(ThresholdModel("x0"), rows, label="churn", record=False)
    assert first.intervals == again.intervals


def test_resampled_roc_auc_is_exact_with_ties() -> None:
    rng = np.random.default_rng(17)
    score = np.round(rng.uniform(size=300), 1)  # many ties, across classes too
    positive = rng.uniform(size=300) < score
    draws = next(resamples(300, count=20))
    got = _binary_auc(positive, score)(counts(draws, 300))
    want = [binary_auc(positive[row], score[row]) for row in draws]
    np.testing.assert_allclose(got, want)


def test_drawn_confusion_matrices_match_resampled_rows() -> None:
    rng = np.random.default_rng(18)
    y = rng.integers(0, 3, size=2_000)
    pred = np.where(rng.uniform(size=2_000) < 0.7, y, rng.integers(0, 3, size=2_000))
    p = Predictions("classification", y, pred, np.array(["a", "b", "c"]))
    drawn = _confusions(p)
    direct = np.concatenate([(y[d] == pred[d]).mean(axis=1) for d in resamples(2_000)])
    from_matrix = np.trace(drawn, axis1=1, axis2=2) / 2_000
    assert drawn.shape == (1_000, 3, 3)
    assert (drawn.sum(axis=(1, 2)) == 2_000).all()
    assert np.percentile(from_matrix, [2.5, 97.5]) == pytest.approx(
        np.percentile(direct, [2.5, 97.5]), abs=0.005
    )


def test_counts_are_how_often_each_row_was_drawn() -> None:
    draws = next(resamples(50, count=4))
    drawn = counts(draws, 50)
    assert drawn.shape == (4, 50)
    for resample, row in zip(drawn, draws, strict=True):
        np.testing.assert_array_equal(resample, np.bincount(row, minlength=50))


def test_time_series_are_resampled_in_blocks() -> None:
    draws = next(resamples(1_000, block=10, count=3))
    assert draws.shape == (3, 1_000)
    steps = np.diff(draws, axis=1)
    assert (steps == 1).mean() > 0.85  # runs of consecutive rows, 10 at a time


# -- latency and size -----------------------------------------------------------------------


def test_latency_is_of_predict_per_row_and_per_batch(test_rows: pd.DataFrame) -> None:
    result = evaluate(SlowModel(0.002), test_rows, label="churn", record=False)
    latency = result.latency_ms
    assert set(latency) == {"row_p50", "row_p99", "batch_1000_p50", "batch_1000_p99"}
    assert 2 <= latency["row_p50"] <= latency["row_p99"]
    assert 2 <= latency["batch_1000_p50"] <= latency["batch_1000_p99"]


def test_size_is_the_flavors_bytes_and_the_pickle(test_rows: pd.DataFrame) -> None:
    model = ThresholdModel("x0")
    result = evaluate(model, test_rows, label="churn", record=False)
    assert result.size_bytes == {
        "disk": len(encode(model)[0]),
        "memory": len(pickle.dumps(model, protocol=5)),
    }
    unsized = evaluate(Unpicklable(), test_rows, label="churn", record=False)
    assert unsized.size_bytes == {}


# -- the package ----------------------------------------------------------------------------


def test_every_public_name_resolves() -> None:
    for name in loopml.evaluation.__all__:
        assert getattr(loopml.evaluation, name) is not None, name
    assert set(loopml.evaluation.__all__) == set(dir(loopml.evaluation))
    with pytest.raises(AttributeError):
        loopml.evaluation.nothing  # noqa: B018


def test_importing_the_package_loads_no_numeric_library() -> None:
    code = "import sys, loopml.evaluation; print(sorted({'numpy', 'polars'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
