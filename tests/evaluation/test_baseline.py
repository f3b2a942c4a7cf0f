"""Naive baselines with known answers, their metrics checked against scikit-learn, and
their numbers logged on a real run."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn import metrics as sk
from sklearn.dummy import DummyClassifier

import loopml
from loopml.errors import InvalidInput
from loopml.evaluation import _metrics as m
from loopml.evaluation._season import detect_season
from loopml.training import Baseline, baseline, log_baseline


def planted_labels(size: int = 1_000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).choice(["a", "b", "c"], size=size, p=[0.2, 0.5, 0.3])


def seasonal_series(size: int = 240, seed: int = 0) -> np.ndarray:
    """A monthly series with a yearly cycle: period-12 sine plus noise."""
    steps = np.arange(size)
    return 10 + np.sin(2 * np.pi * steps / 12) + np.random.default_rng(seed).normal(0, 0.3, size)


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [list, np.asarray, pd.Series, pl.Series])
def test_majority_class_of_a_planted_distribution(wrap: Callable[[Any], Any]) -> None:
    y = planted_labels()
    majority = baseline("classification", wrap(list(y)))
    assert majority.strategy == "majority"
    assert majority.description == "majority class 'b'"
    assert majority.predict(3).tolist() == ["b", "b", "b"]
    assert len(majority.predict(np.zeros((7, 4)))) == 7  # the rows of X
    assert len(majority.predict(pl.DataFrame({"x": range(5)}))) == 5


def test_majority_class_of_integer_labels_is_named_like_the_label() -> None:
    y = [0, 2, 2, 1, 2, 0]
    assert baseline("classification", y).description == "majority class '2'"
    assert baseline("classification", np.array(y)).predict(2).tolist() == [2, 2]


def test_majority_metrics_equal_scikit_learn_on_the_same_rows() -> None:
    y_train, y_test = planted_labels(seed=1), planted_labels(size=300, seed=2)
    got = baseline("classification", y_train).metrics(y_test)
    predicted = DummyClassifier(strategy="most_frequent").fit(y_train[:, None], y_train)
    y_pred = predicted.predict(np.zeros((len(y_test), 1)))
    assert got == pytest.approx(
        {
            "accuracy": sk.accuracy_score(y_test, y_pred),
            "f1_macro": sk.f1_score(y_test, y_pred, average="macro", zero_division=0),
            "balanced_accuracy": sk.balanced_accuracy_score(y_test, y_pred),
        }
    )


def test_prior_predicts_the_class_frequencies_and_its_log_loss_is_their_entropy() -> None:
    y = planted_labels()
    prior = baseline("classification", y, strategy="prior")
    _, counts = np.unique(y, return_counts=True)
    frequencies = counts / counts.sum()
    assert prior.classes is not None
    assert prior.classes.tolist() == ["a", "b", "c"]
    assert prior.predict_proba(4) == pytest.approx(np.tile(frequencies, (4, 1)))
    assert prior.predict(2).tolist() == ["b", "b"]
    dummy = DummyClassifier(strategy="prior").fit(y[:, None], y)
    assert prior.predict_proba(3) == pytest.approx(dummy.predict_proba(np.zeros((3, 1))))
    entropy = -float(np.sum(frequencies * np.log(frequencies)))
    assert prior.metrics(y)["log_loss"] == pytest.approx(entropy, rel=1e-12)
    assert "log_loss" not in baseline("classification", y).metrics(y)


# -- regression ----------------------------------------------------------------------------


def test_mean_and_median() -> None:
    y = [1.0, 2.0, 3.0, 10.0]
    mean = baseline("regression", pd.Series(y))
    median = baseline("regression", pl.Series(y), strategy="median")
    assert mean.predict(2).tolist() == [4.0, 4.0]
    assert median.predict(2).tolist() == [2.5, 2.5]
    assert (mean.description, median.description) == ("mean 4", "median 2.5")
    y_test = [2.0, 5.0, 9.0]
    assert mean.metrics(y_test) == pytest.approx(
        {
            "mae": sk.mean_absolute_error(y_test, [4.0] * 3),
            "rmse": math.sqrt(sk.mean_squared_error(y_test, [4.0] * 3)),
            "r2": sk.r2_score(y_test, [4.0] * 3),
        }
    )


# -- time series ---------------------------------------------------------------------------


def test_last_value_forecasts() -> None:
    last = baseline("timeseries", [5.0, 7.0, 6.0, 9.0])
    assert last.description == "last value 9"
    assert last.predict(3).tolist() == [9.0, 9.0, 9.0]
    assert last.predict_for([1.0, 2.0], 2).tolist() == [2.0, 2.0]
    assert last.predict_rolling([10.0, 12.0, 11.0]).tolist() == [9.0, 10.0, 12.0]
    # in-sample naive error of the training series: |7-5|, |6-7|, |9-6| -> 2
    assert last.mase_scale == pytest.approx(2.0)
    assert last.metrics([10.0, 11.0]) == pytest.approx(
        {"mae": 1.5, "rmse": 1.5811388, "mase": 0.75}
    )
    assert last.metrics([10.0, 11.0], rolling=True)["mae"] == pytest.approx(1.0)


def test_seasonal_naive_repeats_the_last_season() -> None:
    y = np.arange(8.0)
    seasonal = baseline("timeseries", y, season=4)  # a season alone means "seasonal"
    assert seasonal.strategy == "seasonal"
    assert seasonal.description == "seasonal naive, season 4"
    assert seasonal.predict(6).tolist() == [4.0, 5.0, 6.0, 7.0, 4.0, 5.0]
    assert seasonal.predict_rolling([8.0, 9.0, 10.0, 11.0, 12.0]).tolist() == [4, 5, 6, 7, 8]
    assert seasonal.predict_for(np.arange(100.0), 2).tolist() == [96.0, 97.0]
    assert seasonal.mase_scale == pytest.approx(4.0)  # each value is 4 above its season-ago


def test_seasonal_naive_detects_a_planted_period_and_beats_last_value() -> None:
    series = seasonal_series()
    y_train, y_test = series[:216], series[216:]
    seasonal = baseline("timeseries", y_train, strategy="seasonal")
    assert seasonal.season == 12
    assert seasonal.description == "seasonal naive, season 12"
    last = baseline("timeseries", y_train)
    # each on its own scale, as each is logged
    assert seasonal.metrics(y_test)["mase"] < last.metrics(y_test)["mase"]
    # and on the same scale, as a model is compared with the baseline
    last_on_seasonal_scale = m.mase(y_test, last.predict(len(y_test)), seasonal.mase_scale)
    assert seasonal.metrics(y_test)["mase"] < 0.7 * last_on_seasonal_scale


def test_a_trend_does_not_hide_the_season() -> None:
    steps = np.arange(144)
    assert detect_season(0.5 * steps + 3 * np.sin(2 * np.pi * steps / 7)) == 7


@pytest.mark.parametrize(
    "series",
    [
        np.random.default_rng(3).normal(size=300),  # white noise
        np.cumsum(np.random.default_rng(4).normal(size=300)),  # a random walk
        np.arange(50.0),  # a straight line
        np.full(40, 2.0),  # a constant
    ],
    ids=["noise", "random-walk", "line", "constant"],
)
def test_a_series_without_seasonality_gets_a_clear_error(series: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="no season found in y_train") as caught:
        baseline("timeseries", series, strategy="seasonal")
    assert "pass season=" in str(caught.value)
    assert "strategy='last'" in str(caught.value)


def test_a_constant_training_series_leaves_the_mase_out() -> None:
    assert baseline("timeseries", [3.0] * 10).metrics([3.0, 4.0]) == {"mae": 0.5, "rmse": 0.5**0.5}


# -- a user-given number -------------------------------------------------------------------


def test_a_user_given_value_has_only_its_metric() -> None:
    human = baseline(
        "classification",
        None,
        value=0.93,
        metric="accuracy",
        description="human accuracy on 1,000 labelled examples",
    )
    assert human.metrics(planted_labels()) == {"accuracy": 0.93}
    assert human.description == "human accuracy on 1,000 labelled examples"
    assert baseline("regression", [1.0], value=2, metric="mae").description == "user-given mae 2"
    with pytest.raises(InvalidInput, match="has no predictions"):
        human.predict(3)


# -- the metrics against scikit-learn ------------------------------------------------------

RNG = np.random.default_rng(7)
LABELS = RNG.integers(0, 5, 400), RNG.integers(0, 6, 400)  # a class only ever predicted
WORDS = RNG.choice(["x", "y", "z"], 400), RNG.choice(["x", "y"], 400)  # a class never predicted
NUMBERS = RNG.normal(3, 2, 400), RNG.normal(3, 2.5, 400)


@pytest.mark.parametrize("pair", [LABELS, WORDS], ids=["ints", "strings"])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (m.accuracy, sk.accuracy_score),
        (m.balanced_accuracy, sk.balanced_accuracy_score),
        (m.f1_macro, lambda t, p: sk.f1_score(t, p, average="macro", zero_division=0)),
    ],
    ids=["accuracy", "balanced_accuracy", "f1_macro"],
)
def test_classification_metrics_equal_scikit_learn(
    ours: Callable[..., float], theirs: Callable[..., float], pair: tuple[Any, Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of the class only ever predicted
        expected = theirs(*pair)
    assert ours(*pair) == pytest.approx(expected, rel=1e-12)


def test_log_loss_equals_scikit_learn() -> None:
    y_true = RNG.integers(0, 4, 300)
    proba = RNG.dirichlet(np.ones(4), 300)
    expected = sk.log_loss(y_true, proba, labels=[0, 1, 2, 3])
    assert m.log_loss(y_true, proba, [0, 1, 2, 3]) == pytest.approx(expected, rel=1e-12)
    # the columns may name their classes in any order
    shuffled = [2, 0, 3, 1]
    assert m.log_loss(y_true, proba[:, shuffled], shuffled) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (m.mae, sk.mean_absolute_error),
        (m.rmse, lambda t, p: math.sqrt(sk.mean_squared_error(t, p))),
        (m.r2, sk.r2_score),
    ],
    ids=["mae", "rmse", "r2"],
)
def test_regression_metrics_equal_scikit_learn(
    ours: Callable[..., float], theirs: Callable[..., float]
) -> None:
    assert ours(*NUMBERS) == pytest.approx(theirs(*NUMBERS), rel=1e-12)
    constant = np.full(10, 2.0)
    assert ours(constant, constant + 1) == pytest.approx(theirs(constant, constant + 1))


def test_mase_is_the_mae_over_the_in_sample_naive_error() -> None:
    y_train = RNG.normal(size=60).cumsum()
    y_true, y_pred = NUMBERS[0][:20], NUMBERS[1][:20]
    for season in (1, 4):
        scale = m.naive_scale(y_train, season)
        naive = [abs(y_train[t] - y_train[t - season]) for t in range(season, len(y_train))]
        assert scale == pytest.approx(float(np.mean(naive)))
        assert m.mase(y_true, y_pred, scale) == pytest.approx(
            sk.mean_absolute_error(y_true, y_pred) / scale
        )


# -- logging on a run ----------------------------------------------------------------------


def test_log_baseline_writes_its_metrics_and_description_on_the_active_run(
    tmp_path: Path,
) -> None:
    y_train, y_test = planted_labels(seed=5), planted_labels(size=200, seed=6)
    prior = baseline("classification", y_train, strategy="prior")
    human = baseline("classification", None, value=0.93, metric="human_accuracy")
    with loopml.init(tmp_path) as ws:
        with loopml.start_run("fit", workspace=ws) as run:
            logged = log_baseline(prior, y_test)
            log_baseline(human)
            loopml.log_metric("accuracy", 0.8)
        stored = ws.store.latest_metrics([run.id])[run.id]
        tags = ws.store.get_run(run.id).tags
    assert logged == prior.metrics(y_test)
    assert set(logged) == {"accuracy", "f1_macro", "balanced_accuracy", "log_loss"}
    assert stored == pytest.approx(
        {
            **{f"baseline.{key}": value for key, value in logged.items()},
            "baseline.human_accuracy": 0.93,
            "accuracy": 0.8,
        }
    )
    assert tags["baseline"] == "user-given human_accuracy 0.93"  # the last one logged


def test_log_baseline_of_a_forecast_on_the_evaluation_window(tmp_path: Path) -> None:
    series = seasonal_series(size=120)
    seasonal = baseline("timeseries", series[:96], season=12)
    with loopml.init(tmp_path) as ws, loopml.start_run("forecast", workspace=ws) as run:
        logged = log_baseline(seasonal, series[96:], rolling=True)
    assert set(logged) == {"mae", "rmse", "mase"}
    assert ws.store.latest_metrics([run.id])[run.id]["baseline.mase"] == pytest.approx(
        logged["mase"]
    )
    assert ws.store.get_run(run.id).tags == {"baseline": "seasonal naive, season 12"}


# -- bad input -----------------------------------------------------------------------------

BAD_INPUT: list[tuple[Callable[[], object], str]] = [
    (lambda: baseline("clustering", [1]), r"task='clustering' is unknown; use one of .*regression"),
    (
        lambda: baseline("regression", [1.0], strategy="mode"),
        r"strategy='mode' is unknown for regression; use one of mean, median",
    ),
    (lambda: baseline("classification", []), r"y_train is empty"),
    (lambda: baseline("regression", None), r"y_train is None"),
    (lambda: baseline("regression", [1.0, math.nan]), r"y_train has a missing value .* 1"),
    (lambda: baseline("classification", ["a", None]), r"missing value \(NaN or None\)"),
    (lambda: baseline("classification", pd.Series(["a", pd.NA])), r"missing value"),
    (
        lambda: baseline("timeseries", pl.Series([1.0, None, 2.0])),
        r"missing value .* at position 1",
    ),
    (lambda: baseline("regression", ["a", "b"]), r"y_train must hold numbers"),
    (
        lambda: baseline("classification", pd.Series([1, "a"])),
        r"y_train mix label types \(int, str\)",
    ),
    (lambda: baseline("regression", [[1.0, 2.0]]), r"must be 1-D"),
    (lambda: baseline("timeseries", np.arange(30.0), season=1), r"season=1 is too short"),
    (
        lambda: baseline("timeseries", np.arange(30.0), season=20),
        r"season=20 is longer than half of y_train \(30 values\).* at most 15",
    ),
    (lambda: baseline("timeseries", np.arange(30.0), season=2.5), r"whole number of steps"),
    (
        lambda: baseline("timeseries", [1.0, 2.0], strategy="last", season=12),
        r"season=12 is for strategy='seasonal'",
    ),
    (lambda: baseline("regression", [1.0], season=12), r"season=12 is for time series"),
    (lambda: baseline("timeseries", [1.0]), r"needs at least 2"),
    (
        lambda: baseline("classification", [1], value=0.93),
        r"value=0.93 needs metric= naming what it measures",
    ),
    (lambda: baseline("classification", [1], metric="accuracy"), r"needs value="),
    (
        lambda: baseline("classification", [1], value=0.9, metric="accuracy", strategy="prior"),
        r"takes no strategy=",
    ),
    (lambda: baseline("classification", [1], value="high", metric="acc"), r"must be a number"),
    (
        lambda: m.accuracy([1, 2, 3], [1, 2]),
        r"y_true has 3 rows but the predictions have 2",
    ),
    (lambda: m.mae([1.0], [1.0, 2.0]), r"y_true has 1 rows but the predictions have 2"),
    (
        lambda: baseline("classification", [1, 2]).predict_proba(3),
        r"predict_proba is for the 'prior' .* strategy='prior'",
    ),
    (
        lambda: baseline("regression", [1.0]).predict_rolling([1.0]),
        r"for time series baselines",
    ),
    (
        lambda: baseline("timeseries", np.arange(8.0), season=4).predict_for([1.0], 2),
        r"y_history has 1 values; .* needs at least 4",
    ),
    (lambda: baseline("regression", [1.0]).metrics(), r"need y_true"),
    (lambda: baseline("regression", [1.0]).predict(-1), r"cannot be negative"),
    (lambda: baseline("regression", [1.0]).metrics([1.0], rolling=True), r"for time series"),
]


@pytest.mark.parametrize(("call", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_the_fix(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


def test_a_baseline_shows_what_it_is() -> None:
    made = baseline("classification", ["x", "y", "y"])
    assert isinstance(made, Baseline)
    assert repr(made) == "<Baseline classification: majority class 'y'>"
