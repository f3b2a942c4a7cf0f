"""Warm starts and incremental updates, with known answers: ensembles keep their old
members and grow, boosters continue their rounds, a reversed concept shows up as
forgetting and an unchanged one does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.errors import InvalidInput
from loopml.training._continue import retrain, update


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture
def ws(tmp_path: Path):
    with loopml.init(tmp_path) as ws:
        yield ws


def test_a_forest_grows_and_keeps_its_trees(data, ws) -> None:
    X_old, y_old, X_new, y_new = data
    previous = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_old, y_old)
    with loopml.start_run("retrain", workspace=ws) as run:
        result = retrain(previous, X_new, y_new)
    assert result.start == "warm"
    assert len(result.model.estimators_) == 40
    assert len(previous.estimators_) == 20  # the previous model is untouched
    for old, kept in zip(previous.estimators_, result.model.estimators_[:20], strict=True):
        assert np.array_equal(old.predict(X_new), kept.predict(X_new))
    assert ws.store.get_run(run.id).tags == {
        "start": "warm",
        "start_how": "n_estimators 20 -> 40, continued from the previous model",
    }


def test_boosting_continues_its_rounds(data) -> None:
    X_old, y_old, X_new, y_new = data
    gb = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X_old, y_old)
    grown = retrain(gb, X_new, y_new, more=5).model
    assert grown.n_estimators_ == 15
    first = list(grown.staged_decision_function(X_new))[9]
    assert np.allclose(first.ravel(), gb.decision_function(X_new))  # the first 10 stages kept

    import lightgbm
    import xgboost

    xgb = xgboost.XGBClassifier(n_estimators=10, max_depth=2).fit(X_old, y_old)
    assert retrain(xgb, X_new, y_new).model.get_booster().num_boosted_rounds() == 20
    lgb = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X_old, y_old)
    warm = retrain(lgb, X_new, y_new, more=3)
    assert warm.model.booster_.current_iteration() == 13
    assert warm.how == "3 more boosting rounds on the previous 10"


def test_scratch_and_models_that_cannot_warm_start(data, ws) -> None:
    X_old, y_old, X_new, y_new = data
    knn = KNeighborsClassifier().fit(X_old, y_old)
    with pytest.raises(InvalidInput, match="cannot be warm-started"):
        retrain(knn, X_new, y_new, mode="warm")
    with loopml.start_run("retrain", workspace=ws) as run:
        fallback = retrain(knn, X_new, y_new)
    assert fallback.start == "scratch"
    assert fallback.model is not knn
    assert ws.store.get_run(run.id).tags["start"] == "scratch"
    assert np.array_equal(fallback.model._fit_X, X_new)  # trained on the new data only
    with pytest.raises(InvalidInput, match="mode 'hot' is not one of"):
        retrain(knn, X_new, y_new, mode="hot")


def blobs(seed: int, flipped: bool, n: int = 400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] > 0).astype(int)
    return X, (1 - y) if flipped else y


@pytest.mark.parametrize(("flipped", "forgets"), [(False, False), (True, True)])
def test_update_measures_what_the_model_forgets(ws, flipped: bool, forgets: bool) -> None:
    X, y = blobs(0, flipped=False)
    model = SGDClassifier(random_state=0).fit(X, y)
    old_data = blobs(1, flipped=False)
    batches = [blobs(10 + i, flipped=flipped, n=200) for i in range(5)]
    with loopml.start_run("update", workspace=ws) as run:
        result = update(model, batches, old_data=old_data)
    assert result.old_data[0] > 0.95
    assert len(result.old_data) == 6
    if forgets:
        assert result.forgetting > 0.5  # the concept was reversed: the old one is lost
        assert result.new_batches[0] < 0.1  # the first new batch was all wrong at first
    else:
        assert result.forgetting < 0.05
    metrics = ws.store.latest_metrics([run.id])[run.id]
    assert metrics["forgetting.accuracy"] == pytest.approx(result.forgetting)
    assert [m.step for m in ws.store.metrics(run.id, key="old_data.accuracy")] == list(range(6))
    assert np.array_equal(model.predict(X), SGDClassifier(random_state=0).fit(X, y).predict(X))


def test_a_pipeline_learns_in_its_last_step_its_scaling_kept(ws) -> None:
    X, y = blobs(0, flipped=False)
    model = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X * 100, y)
    scale = model[0].mean_.copy()
    batches = [(X2 * 100, y2) for X2, y2 in (blobs(10 + i, flipped=True, n=200) for i in range(5))]
    X_old, y_old = blobs(1, flipped=False)
    result = update(model, batches, old_data=(X_old * 100, y_old))
    assert result.old_data[0] > 0.95
    assert result.forgetting > 0.5  # the reversed concept was learnt, through the scaler
    assert np.array_equal(result.model[0].mean_, scale)  # the scaler as it was fitted
    assert result.model is not model


def test_update_needs_partial_fit_and_batches(data) -> None:
    X_old, y_old, _, _ = data
    forest = RandomForestClassifier(n_estimators=3).fit(X_old, y_old)
    with pytest.raises(InvalidInput, match="has no partial_fit"):
        update(forest, [], old_data=(X_old, y_old))
    sgd = SGDClassifier().fit(X_old, y_old)
    with pytest.raises(InvalidInput, match="no batches"):
        update(sgd, [], old_data=(X_old, y_old))
