"""Tensors to a Predictor's rows and back: a model fed tensors tritonclient built (one per
column, or one [n, k] matrix) predicts what it predicts in-process; a prediction becomes
the output tensors tritonclient reads; the model's V2 metadata; inputs that fit neither
way are refused naming the inputs the model expects."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.errors import InvalidInput
from loopml.models import Predictor, infer_signature
from loopml.serve._shapes import (
    model_metadata,
    response_parameters,
    rows_from_tensors,
    tensors_from_prediction,
)
from loopml.serve._tensors import tensor_of
from loopml.serve._v2 import decode_rest, encode_rest

from .test_v2 import triton_body

Client = httpclient.InferenceServerClient


@pytest.fixture(scope="module")
def cancer() -> tuple[Predictor, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    return Predictor(model, signature=infer_signature(X, model)), X


@pytest.fixture(scope="module")
def mixed() -> tuple[Predictor, pd.DataFrame]:
    """A classifier with an integer, a float and a text column, and text classes."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 200),
            "income": rng.normal(3.0, 1.0, 200),
            "city": rng.choice(["Oslo", "Rome", "Lima"], 200),
        }
    )
    y = np.where(X["income"] + (X["city"] == "Oslo") > 3.2, "stays", "churns")
    encode = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)
    return Predictor(model, signature=infer_signature(X, model)), X


def test_one_matrix_of_all_columns_predicts_as_in_process(cancer: Any) -> None:
    predictor, X = cancer
    rows = X.iloc[:5].to_numpy()
    for binary in (True, False):
        request = decode_rest(*triton_body({"input-0": rows}, binary))
        found = rows_from_tensors(request.inputs, predictor.features, predictor.signature)
        assert isinstance(found, np.ndarray)
        assert found.shape == (5, 30)
        prediction = predictor.predict(found)
        expected = predictor.predict(X.iloc[:5])
        np.testing.assert_array_equal(prediction.predictions, expected.predictions)
        np.testing.assert_allclose(prediction.probabilities, expected.probabilities)


def test_one_tensor_per_column_predicts_as_in_process(mixed: Any) -> None:
    predictor, X = mixed
    head = X.iloc[:7]
    arrays = {
        "income": head["income"].to_numpy().reshape(-1, 1),  # [n, 1] works as [n]
        "city": np.array([c.encode() for c in head["city"]], dtype=object),
        "age": head["age"].to_numpy(),
    }
    request = decode_rest(*triton_body(arrays, binary=True))
    rows = rows_from_tensors(request.inputs, predictor.features, predictor.signature)
    assert sorted(rows) == ["age", "city", "income"]
    assert rows["city"].tolist() == head["city"].tolist()  # BYTES became text
    assert rows["income"].shape == (7,)
    found = predictor.predict(rows)
    expected = predictor.predict(head)
    assert found.predictions.tolist() == expected.predictions.tolist()
    np.testing.assert_allclose(found.probabilities, expected.probabilities)


def test_without_known_columns_named_tensors_pass_as_they_come() -> None:
    rows = rows_from_tensors([tensor_of("a", np.array([1, 2]))], None, None)
    assert list(rows) == ["a"]
    matrix = rows_from_tensors([tensor_of("m", np.ones((2, 4)))], None, None)
    assert matrix.shape == (2, 4)


def test_a_prediction_becomes_tensors_tritonclient_reads(mixed: Any) -> None:
    predictor, X = mixed
    prediction = predictor.predict(X.iloc[:3])
    tensors = tensors_from_prediction(prediction)
    assert [(t.name, t.datatype, t.shape) for t in tensors] == [
        ("predictions", "BYTES", (3,)),
        ("probabilities", "FP64", (3, 2)),
    ]
    parameters = response_parameters(prediction)
    body, length = encode_rest("p", "m", "1", tensors, None, True, parameters)
    result = Client.parse_response_body(body, header_length=length)
    assert [b.decode() for b in result.as_numpy("predictions")] == prediction.predictions.tolist()
    np.testing.assert_array_equal(result.as_numpy("probabilities"), prediction.probabilities)
    classes = json.loads(result.get_response()["parameters"]["classes"])
    assert classes == ["churns", "stays"] == prediction.classes.tolist()


def test_a_regressor_gives_predictions_only() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    predictor = Predictor(Ridge().fit(X, y))
    prediction = predictor.predict(X.iloc[:2])
    (tensor,) = tensors_from_prediction(prediction)
    assert (tensor.name, tensor.datatype, tensor.shape) == ("predictions", "FP64", (2,))
    assert response_parameters(prediction) == {}


def test_metadata_lists_the_columns_and_outputs(mixed: Any) -> None:
    predictor, _ = mixed
    found = model_metadata("churn", ["1", "2"], predictor.signature, "loopml_sklearn")
    assert found == {
        "name": "churn",
        "versions": ["1", "2"],
        "platform": "loopml_sklearn",
        "inputs": [
            {"name": "age", "datatype": "INT64", "shape": [-1]},
            {"name": "income", "datatype": "FP64", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "predictions", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
        ],
    }
    assert model_metadata("m", [], None, "x")["inputs"] == []


REFUSED = [
    ("a column missing", {"age": np.array([1]), "income": np.array([1.0])}, "city",
     "(missing city)"),
    ("an unknown input", {"age": np.array([1]), "income": np.array([1.0]),
     "city": np.array([b"Oslo"], dtype=object), "zip": np.array([1])}, "zip", "(unknown zip)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("arrays", "field", "text"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_inputs_that_fit_no_way_name_what_the_model_takes(
    mixed: Any, arrays: dict[str, Any], field: str, text: str
) -> None:
    predictor, _ = mixed
    inputs = [tensor_of(name, array) for name, array in arrays.items()]
    with pytest.raises(InvalidInput) as error:
        rows_from_tensors(inputs, predictor.features, predictor.signature)
    message = str(error.value)
    assert error.value.field == field
    assert text in message
    assert "age (INT64, shape [-1]), income (FP64, shape [-1]), city (BYTES, shape [-1])" in message
    assert "one tensor of shape [-1, 3]" in message


def test_a_matrix_of_the_wrong_width_is_told_its_width(mixed: Any) -> None:
    predictor, _ = mixed
    with pytest.raises(InvalidInput) as error:
        rows_from_tensors(
            [tensor_of("x", np.ones((1, 2)))], predictor.features, predictor.signature
        )
    assert error.value.field == "inputs[0].shape"
    assert str(error.value).startswith(
        "input x has 2 column(s) (shape [1, 2]) where the model takes 3: age, income, city; "
        "send one tensor of shape [-1, 3]"
    )


def test_columns_of_other_shapes_or_lengths_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"shape \[1, 2\]; a column takes") as error:
        rows_from_tensors(
            [tensor_of("a", np.ones((1, 2))), tensor_of("b", np.ones(1))], ["a", "b"], None
        )
    assert error.value.field == "a"
    with pytest.raises(InvalidInput, match="b has 2 row") as error:
        rows_from_tensors(
            [tensor_of("a", np.ones(1)), tensor_of("b", np.ones(2))], ["a", "b"], None
        )
    assert error.value.field == "b"
    bad_text = tensor_of("a", np.array([b"\xff"], dtype=object))
    with pytest.raises(InvalidInput, match="not UTF-8") as error:
        rows_from_tensors([bad_text], ["a"], None)
    assert error.value.field == "a"


def test_a_wrong_type_is_left_to_the_signature(mixed: Any) -> None:
    predictor, _ = mixed
    inputs = [
        tensor_of("age", np.array([1.5])),
        tensor_of("income", np.array([1.0])),
        tensor_of("city", np.array([b"Oslo"], dtype=object)),
    ]
    rows = rows_from_tensors(inputs, predictor.features, predictor.signature)
    with pytest.raises(InvalidInput, match="age is float where integer is expected") as error:
        predictor.predict(rows)
    assert error.value.field == "age"


def test_encode_of_a_prediction_has_one_value_per_row(cancer: Any) -> None:
    predictor, X = cancer
    prediction = predictor.predict(X.iloc[:4])
    body, length = encode_rest(None, "m", "1", tensors_from_prediction(prediction), None, False, {})
    assert length is None
    result = Client.parse_response_body(body)
    np.testing.assert_array_equal(result.as_numpy("predictions"), prediction.predictions)
