"""to_onnx: a scikit-learn model converted with skl2onnx, checked against the original
on evaluation rows, timed on one row; a conversion that disagrees is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.errors import InvalidInput
from loopml.models import OnnxConversion, load_model, save_model, to_onnx
from loopml.models._onnx import session


def split(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    X_train, X_eval, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    return X_train, X_eval, y_train


def check_figures(result: OnnxConversion, rows: int) -> None:
    assert result.rows == rows
    assert result.sklearn_latency_ms > 0
    assert result.onnx_latency_ms > 0
    assert result.faster in ("onnx", "sklearn")
    assert result.model.graph.input[0].name == "X"


def test_scaled_logistic_regression_agrees() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_eval, y_train = split(X, y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)
    result = to_onnx(model, X_train, check_on=X_eval)
    check_figures(result, len(X_eval))
    assert result.label_agreement == 1.0
    assert result.ties == 0
    assert result.max_abs_diff < 1e-4
    labels, proba = session(result.model).run(None, {"X": X_eval.to_numpy(np.float32)})
    assert (labels == model.predict(X_eval)).all()
    np.testing.assert_allclose(proba, model.predict_proba(X_eval), atol=1e-4)


def test_small_random_forest_agrees() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X_train, X_eval, y_train = split(X, y)
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    model.fit(X_train, y_train)
    result = to_onnx(model, X_train, check_on=X_eval)
    check_figures(result, len(X_eval))
    assert result.label_agreement == 1.0
    assert result.max_abs_diff < 1e-4


def test_a_regressor_agrees_and_the_result_saves_as_onnx(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_eval, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    model = Ridge().fit(X_train, y_train)
    result = to_onnx(model, X_train, check_on=X_eval)
    assert result.label_agreement is None
    assert result.max_abs_diff < 1e-4
    with loopml.init(tmp_path) as ws:
        saved = save_model(result.model, "ridge-onnx", workspace=ws, signature_from=X_train)
        assert saved.metadata["flavor"] == "onnx"
        assert saved.metadata["onnx"]["producer"].startswith("skl2onnx ")
        back = load_model("ridge-onnx", workspace=ws)
    assert back.SerializeToString() == result.model.SerializeToString()


def test_disagreement_beyond_the_tolerance_is_refused() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_eval, y_train = split(X, y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)
    # float32 against float64 differs by about 1e-7: no tolerance at all refuses it
    with pytest.raises(InvalidInput, match=r"does not agree .* differ by up to .*tolerance 0\)"):
        to_onnx(model, X_train, check_on=X_eval, tolerance=0.0)


def test_what_cannot_be_converted_is_refused() -> None:
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(InvalidInput, match=r"skl2onnx cannot convert the KernelRidge"):
        to_onnx(KernelRidge().fit(X, y), X, check_on=X)
    with pytest.raises(InvalidInput, match="to_onnx converts scikit-learn models, not a dict"):
        to_onnx({}, X, check_on=X)
    text = pd.DataFrame({"city": ["Oslo", "Rome"], "n": [1, 2]})
    with pytest.raises(InvalidInput, match="X_sample must hold numbers only"):
        to_onnx(Ridge().fit(X[:2, :2], y[:2]), text, check_on=text)
