"""Predictor: a stored model called on rows in every form, native or as its ONNX copy,
giving the same predictions and probabilities; rows that do not fit the signature are
refused naming the field; it knows the version it runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

import loopml
from loopml.errors import InvalidInput
from loopml.models import Prediction, Predictor, infer_signature, save_model, to_onnx

FORMS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "pandas": lambda X: X,
    "polars": pl.from_pandas,
    "arrow": pa.Table.from_pandas,
    "numpy": lambda X: X.to_numpy(),
    "dict of columns": lambda X: {name: X[name].tolist() for name in X.columns},
    "list of records": lambda X: X.to_dict("records"),
    "columns reordered": lambda X: X[list(reversed(X.columns))],
}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def classifier(iris: tuple[pd.DataFrame, pd.Series]) -> LogisticRegression:
    X, y = iris
    with threadpool_limits(1):
        return LogisticRegression(max_iter=1000).fit(X, y)


def both_copies(model: Any, X: pd.DataFrame) -> list[Predictor]:
    """The model itself and its ONNX copy, each with the signature inferred on ``X``."""
    signature = infer_signature(X, model)
    converted = to_onnx(model, X, check_on=X).model
    return [
        Predictor(model, signature=signature),
        Predictor(converted, signature=signature, copy="onnx"),
    ]


@pytest.mark.parametrize("form", FORMS)
def test_a_classifier_and_its_onnx_copy_agree_on_every_form(
    classifier: LogisticRegression, iris: tuple[pd.DataFrame, pd.Series], form: str
) -> None:
    X, _ = iris
    native, onnx = both_copies(classifier, X)
    assert (native.runtime, onnx.runtime) == ("python", "onnxruntime")
    assert native.kind == onnx.kind == "classifier"
    rows = FORMS[form](X)
    for predictor in (native, onnx):
        found = predictor.predict(rows)
        assert (found.predictions == classifier.predict(X)).all()
        assert found.classes is not None
        assert found.classes.tolist() == [0, 1, 2]
        assert found.probabilities is not None
        assert found.probabilities.dtype == np.float64
        assert np.allclose(found.probabilities, classifier.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("form", FORMS)
def test_a_regressor_and_its_onnx_copy_agree_on_every_form(form: str) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge().fit(X, y)
    expected = model.predict(X)
    for predictor in both_copies(model, X):
        found = predictor.predict(FORMS[form](X))
        assert found.predictions.dtype == np.float64
        assert (found.probabilities, found.classes) == (None, None)
        assert np.allclose(found.predictions, expected, rtol=1e-4)


def test_text_classes_come_back_as_the_model_gives_them(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    names = y.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=1000).fit(X, names)
    converted = to_onnx(model, X, check_on=X).model
    no_signature = Predictor(converted, copy="onnx")  # the classes from the ONNX graph
    for predictor in [*both_copies(model, X), no_signature]:
        found = predictor.predict(X.to_numpy())
        assert (found.predictions == model.predict(X)).all()
        assert found.classes is not None
        assert found.classes.tolist() == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_boosting_model_stored_and_loaded_agrees_on_every_form(
    ws: loopml.Workspace, iris: tuple[pd.DataFrame, pd.Series], library: str
) -> None:
    X, y = iris
    lib = pytest.importorskip(library)
    if library == "lightgbm":
        model = lib.LGBMClassifier(n_estimators=20, num_threads=1, verbose=-1).fit(X, y)
    else:
        model = lib.XGBClassifier(n_estimators=20, n_jobs=1).fit(X, y)
    save_model(model, "boosted", signature_from=X, workspace=ws)
    predictor = Predictor.load("boosted", workspace=ws)
    assert predictor.model is not model  # loaded back from its bytes
    for form, make in FORMS.items():
        found = predictor.predict(make(X))
        assert (found.predictions == model.predict(X)).all(), form
        assert found.probabilities is not None
        assert np.allclose(found.probabilities, model.predict_proba(X)), form


def test_a_torch_module_gives_classes_and_probabilities() -> None:
    torch = pytest.importorskip("torch")
    from torch_zoo import TinyNet

    torch.manual_seed(0)
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 4)), columns=list("abcd"))
    net = TinyNet(4).eval()
    found = Predictor(net, signature=infer_signature(X)).predict(X.to_dict("records"))
    with torch.no_grad():
        scores = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy()
    assert found.classes is not None
    assert found.classes.tolist() == [0, 1, 2]
    assert (found.predictions == scores.argmax(axis=1)).all()
    assert found.probabilities is not None
    assert np.allclose(found.probabilities.sum(axis=1), 1.0)
    assert (found.probabilities.argmax(axis=1) == found.predictions).all()


def test_it_knows_the_version_it_runs(
    ws: loopml.Workspace, classifier: LogisticRegression, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    saved = save_model(classifier, "iris", signature_from=X, workspace=ws)
    predictor = Predictor.load("iris@latest", workspace=ws)
    assert (predictor.ref, predictor.name, predictor.version) == ("iris@v1", "iris", 1)
    assert (predictor.digest, predictor.artifact, predictor.copy) == (saved.digest, saved, "native")
    assert predictor.signature is not None
    assert predictor.signature.names == list(X.columns)
    assert repr(predictor) == "Predictor(iris@v1, copy='native', runtime='python')"
    plain = Predictor(classifier)
    assert (plain.ref, plain.version, plain.digest) == (None, None, None)
    assert plain.label == "LogisticRegression object"


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        (lambda X: X.drop(columns="petal width (cm)"), "petal width (cm)", "missing column"),
        (lambda X: X.assign(zip="0150"), "zip", "unknown column zip"),
        (
            lambda X: X.assign(**{"sepal width (cm)": "wide"}),
            "sepal width (cm)",
            r"wrong type: sepal width \(cm\) is string where float",
        ),
        (lambda X: X.to_numpy()[:, :3], "petal width (cm)", "missing column"),
        (lambda X: X.to_numpy()[0], "rows", r"1-D array of shape \(4,\).*reshape"),
        (lambda X: [{"sepal length (cm)": 5.1}, 3], "rows", "must hold records"),
        (lambda X: "5.1,3.5,1.4,0.2", "rows", "rows are a str; give a pandas"),
        (
            lambda X: {**{name: [1.0, 2.0] for name in X.columns}, "petal width (cm)": [1.0]},
            "petal width (cm)",
            r"column petal width \(cm\) has 1 value\(s\) where sepal length \(cm\) has 2",
        ),
    ],
)
def test_rows_that_do_not_fit_are_refused_naming_the_field(
    classifier: LogisticRegression,
    iris: tuple[pd.DataFrame, pd.Series],
    rows: Callable[[pd.DataFrame], Any],
    field: str,
    message: str,
) -> None:
    X, _ = iris
    for predictor in both_copies(classifier, X):
        with pytest.raises(InvalidInput, match=message) as found:
            predictor.predict(rows(X))
        assert found.value.field == field
        assert found.value.to_dict()["field"] == field


def test_without_a_signature_the_fitted_columns_are_required(
    classifier: LogisticRegression, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    predictor = Predictor(classifier)  # scikit-learn's feature_names_in_ name them
    assert predictor.features == list(X.columns)
    extra = predictor.predict(X.assign(note="left out")[["note", *reversed(X.columns)]])
    assert (extra.predictions == classifier.predict(X)).all()
    with pytest.raises(InvalidInput, match=r"rows lack column\(s\) petal length") as found:
        predictor.predict(X.drop(columns="petal length (cm)").to_dict("records"))
    assert found.value.field == "petal length (cm)"


def test_one_row_as_a_dict_of_values(classifier: LogisticRegression) -> None:
    row = {
        "sepal length (cm)": 6.7,
        "sepal width (cm)": 3.0,
        "petal length (cm)": 5.2,
        "petal width (cm)": 2.3,
    }
    found = Predictor(classifier).predict(row)
    assert len(found) == 1
    assert found.predictions.tolist() == classifier.predict(pd.DataFrame([row])).tolist()
    body = json.loads(json.dumps(found.to_dict()))
    assert set(body) == {"predictions", "probabilities", "classes"}
    assert body["classes"] == [0, 1, 2]
    assert np.isclose(sum(body["probabilities"][0]), 1.0)


def test_what_cannot_be_called_is_refused() -> None:
    with pytest.raises(InvalidInput, match="a dict cannot be called as a model") as found:
        Predictor({"weights": [1, 2]})
    assert found.value.field == "model"
    with pytest.raises(InvalidInput, match="copy='gpu' names no copy") as found:
        Predictor(Ridge(), copy="gpu")
    assert found.value.field == "copy"


def test_a_model_that_fails_or_gives_the_wrong_shape_says_so() -> None:
    class Broken:
        def predict(self, X: Any) -> Any:
            raise RuntimeError("the weights are gone")

    class TwoPerRow:
        def predict(self, X: Any) -> Any:
            return np.zeros((len(X), 2))

    rows = {"x": [1.0, 2.0, 3.0]}
    with pytest.raises(InvalidInput, match=r"Broken object.predict failed on the rows \(Runt"):
        Predictor(Broken()).predict(rows)
    with pytest.raises(InvalidInput, match=r"returned shape \(3, 2\) for 3 rows"):
        Predictor(TwoPerRow()).predict(rows)


def test_a_prediction_is_plain_arrays() -> None:
    found = Prediction(np.array([1.5, 2.5]))
    assert len(found) == 2
    assert found.to_dict() == {"predictions": [1.5, 2.5]}
