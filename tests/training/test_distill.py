"""Distillation with known answers: a small tree learns a large forest's soft labels,
agrees with it on most rows, and is far smaller; the temperature softens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import loopml
from loopml.errors import InvalidInput
from loopml.training._distill import distill, soft_labels


@pytest.fixture(scope="module")
def split():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def teacher(split):
    X_train, _, y_train, _ = split
    return RandomForestClassifier(n_estimators=300, random_state=0).fit(X_train, y_train)


def test_a_small_tree_learns_a_large_forest(split, teacher, tmp_path: Path) -> None:
    X_train, X_test, _, y_test = split
    with loopml.init(tmp_path) as ws:
        with loopml.start_run("distill", workspace=ws) as run:
            result = distill(
                teacher,
                DecisionTreeClassifier(max_depth=4, random_state=0),
                X_train,
                X_eval=X_test,
                y_eval=y_test,
            )
        logged = ws.store.latest_metrics([run.id])
    report = result.report
    assert report["student.agreement"] > 0.9
    assert report["student.accuracy"] > report["teacher.accuracy"] - 0.06
    assert report["student.size_bytes"] < report["teacher.size_bytes"] / 50
    # Measured, not compared: which answers faster is a timing (bench/evaluation/latency.py).
    assert report["student.latency_ms_p50"] > 0
    assert report["teacher.latency_ms_p50"] > 0
    assert logged[run.id]["student.agreement"] == report["student.agreement"]


def test_a_regressor_student_learns_the_probabilities(split, teacher) -> None:
    X_train, X_test, _, _ = split
    result = distill(teacher, DecisionTreeRegressor(max_depth=5), X_train, X_eval=X_test)
    assert list(result.student.classes_) == [0, 1]
    proba = result.student.predict_proba(X_test)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert result.report["student.agreement"] > 0.9


def test_temperature_softens_the_labels(split) -> None:
    X_train, _, y_train, _ = split
    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    sharp = soft_labels(model, X_train[:50], temperature=1.0)
    soft = soft_labels(model, X_train[:50], temperature=10.0)
    assert np.allclose(sharp, model.predict_proba(X_train[:50]))
    assert (np.abs(soft - 0.5) <= np.abs(sharp - 0.5) + 1e-12).all()
    assert np.array_equal(soft.argmax(axis=1), sharp.argmax(axis=1))


def test_bad_distillations_are_refused(split, teacher) -> None:
    X_train, _, _, _ = split
    with pytest.raises(InvalidInput, match="temperature is 0"):
        soft_labels(teacher, X_train, temperature=0)
    with pytest.raises(InvalidInput, match="takes no sample_weight"):
        distill(teacher, KNeighborsClassifier(), X_train)
