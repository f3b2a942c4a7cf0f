"""Signatures: inferred from pandas, Polars, Arrow and NumPy training data with the
output of a model or of predictions; a batch checked against one names what is
missing, unknown or of the wrong type; a one-row check is fast."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.errors import InvalidInput
from loopml.models import Signature, infer_signature


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([31, 45, 27], dtype=np.int64),
            "income": [1.5, 2.0, np.nan],
            "city": ["Oslo", "Rome", None],
            "member": [True, False, True],
            "plan": pd.Categorical(["a", "b", "a"]),
            "joined": pd.to_datetime(["2020-01-01", "2021-06-30", "2022-02-02"]),
            "visits": pd.array([1, None, 3], dtype="Int64"),
        }
    )


EXPECTED_TYPES = [
    ("age", "integer"),
    ("income", "float"),
    ("city", "string"),
    ("member", "bool"),
    ("plan", "category"),
    ("joined", "datetime"),
    ("visits", "integer"),
]


def types_of(signature: Signature) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in signature.inputs]


def test_pandas_polars_and_arrow_give_the_same_types() -> None:
    df = mixed_frame()
    assert types_of(infer_signature(df)) == EXPECTED_TYPES
    assert infer_signature(df).source == "pandas"
    polars = pl.from_pandas(df)
    assert types_of(infer_signature(polars)) == EXPECTED_TYPES
    assert infer_signature(polars).source == "polars"
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    assert types_of(infer_signature(arrow)) == EXPECTED_TYPES


def test_object_columns_are_read_by_their_values() -> None:
    df = pd.DataFrame(
        {
            "text": np.array(["a", np.nan, "c"], dtype=object),
            "numbers": np.array([1, 2.5, None], dtype=object),
            "mixed": np.array([1, "two", 3.0], dtype=object),
            "empty": np.array([None, None, None], dtype=object),
            "when": np.array([dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)], dtype=object),
        }
    )
    assert types_of(infer_signature(df)) == [
        ("text", "string"),
        ("numbers", "float"),
        ("mixed", "mixed (float, integer, string)"),
        ("empty", "null"),
        ("when", "datetime"),
    ]


def test_numpy_columns_get_generated_names() -> None:
    X = np.zeros((3, 4), dtype=np.float32)
    signature = infer_signature(X, np.zeros(3))
    assert signature.names == ["x0", "x1", "x2", "x3"]
    assert {column.dtype for column in signature.inputs} == {"float32"}
    assert signature.source == "numpy"
    with pytest.raises(InvalidInput, match="1-D array; give a 2-D array"):
        infer_signature(np.zeros(4))


def test_output_and_classes_from_a_classifier() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=500).fit(X, labels)
    output = infer_signature(X, model).output
    assert output is not None
    assert output.shape == (-1,)
    assert output.type == "string"
    assert output.classes == ("setosa", "versicolor", "virginica")


def test_output_from_a_regressor_and_from_predictions() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X, y)
    output = infer_signature(X, model).output
    assert output is not None
    assert (output.shape, output.type, output.dtype, output.classes) == (
        (-1,),
        "float",
        "float64",
        None,
    )
    proba = LogisticRegression(max_iter=500).fit(X, y > 140).predict_proba(X)
    from_predictions = infer_signature(X, proba).output
    assert from_predictions is not None
    assert from_predictions.shape == (-1, 2)
    assert from_predictions.classes is None


def test_a_model_that_cannot_predict_on_x_says_what_to_pass() -> None:
    class Broken:
        def predict(self, X: Any) -> Any:
            raise ValueError("expects a DMatrix")

    with pytest.raises(InvalidInput, match=r"Broken.predict fails .* pass its predictions"):
        infer_signature(pd.DataFrame({"a": [1.0]}), Broken())


def test_round_trips_through_json() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    signature = infer_signature(X, LogisticRegression(max_iter=500).fit(X, y))
    data = json.loads(json.dumps(signature.to_dict()))
    assert Signature.from_dict(data) == signature


@pytest.fixture(scope="module")
def signature() -> Signature:
    return infer_signature(mixed_frame())


def test_a_fitting_batch_passes(signature: Signature) -> None:
    df = mixed_frame()
    signature.check(df)
    signature.check(df.iloc[[0]])
    signature.check(pl.from_pandas(df))
    signature.check(df[list(reversed(df.columns))])  # order does not matter
    # integers fit a float column, and missing values fit anything
    signature.check(df.assign(income=[1, 2, 3], city=[None, None, None]))
    record = {"age": 30, "income": 2.5, "city": "Oslo", "member": True, "plan": "a",
              "joined": dt.datetime(2024, 1, 1), "visits": 2}  # fmt: skip
    signature.check([record])
    signature.check(record)
    signature.check({key: [value] for key, value in record.items()})


def test_missing_unknown_and_wrong_types_are_named(signature: Signature) -> None:
    df = mixed_frame().drop(columns=["plan", "joined"])
    df = df.assign(income=["high", "low", "mid"], age=[1.5, 2.5, 3.5], zip=["0150"] * 3)
    with pytest.raises(InvalidInput) as caught:
        signature.check(df)
    message = str(caught.value)
    assert message.startswith("input does not match the model's signature: ")
    assert "missing columns plan, joined" in message
    assert "unknown column zip" in message
    assert "income is string where float is expected" in message
    assert "age is float where integer is expected" in message
    assert "send age (integer), income (float), city (string)" in message


def test_each_problem_alone(signature: Signature) -> None:
    df = mixed_frame()
    with pytest.raises(InvalidInput, match=r"signature: missing column visits; send"):
        signature.check(df.drop(columns=["visits"]))
    with pytest.raises(InvalidInput, match=r"signature: unknown column extra; send"):
        signature.check(df.assign(extra=1))
    with pytest.raises(InvalidInput, match=r"wrong type: member is string where bool"):
        signature.check(pl.from_pandas(df).with_columns(pl.lit("yes").alias("member")))
    with pytest.raises(InvalidInput, match=r"wrong type: city is integer where string"):
        signature.check([{**df.iloc[0].to_dict(), "city": 3}])


def test_numpy_batches_are_checked_by_position() -> None:
    X = np.random.default_rng(0).normal(size=(10, 3))
    signature = infer_signature(X)
    signature.check(X[:1])
    with pytest.raises(InvalidInput, match="missing column x2"):
        signature.check(X[:1, :2])
    with pytest.raises(InvalidInput, match="unknown column at position 3"):
        signature.check(np.zeros((1, 4)))
    with pytest.raises(InvalidInput, match="x1 is string where float is expected"):
        signature.check(np.array([[1.0, "a", 2.0]], dtype=object))


def test_other_batches_are_refused_with_what_to_send(signature: Signature) -> None:
    with pytest.raises(InvalidInput, match="give a pandas or Polars DataFrame"):
        signature.check("age=3")
    with pytest.raises(InvalidInput, match="a list batch must hold records"):
        signature.check([1, 2, 3])
