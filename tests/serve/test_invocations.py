"""MLflow's /invocations formats: bodies written as MLflow's docs and client write them
(``dataframe_split`` from ``DataFrame.to_dict(orient="split")``, ``dataframe_records``,
``instances``, ``inputs``, CSV from ``DataFrame.to_csv(index=False)``) give rows on which a
Predictor predicts what it predicts in-process; the answer is ``{"predictions": [...]}``;
anything else is InvalidInput naming the key and the formats accepted."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.errors import InvalidInput
from loopml.models import Prediction, Predictor, infer_signature
from loopml.serve._invocations import decode_invocations, encode_invocations

JSON = "application/json"


@pytest.fixture(scope="module")
def model() -> tuple[Predictor, pd.DataFrame]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 100),
            "income": rng.normal(3.0, 1.0, 100).round(3),
            "city": rng.choice(["Oslo", "Rome", "Lima"], 100),
        }
    )
    y = (X["income"] + (X["city"] == "Oslo") > 3.2).astype(int)
    encode = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    fitted = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)
    return Predictor(fitted, signature=infer_signature(X, fitted)), X.iloc[:6]


def _bodies(X: pd.DataFrame) -> dict[str, tuple[bytes, str]]:
    """Each format, as MLflow's docs and its client write it."""
    split = X.to_dict(orient="split")  # index, columns, data: what MLflow's client sends
    return {
        "dataframe_split": (json.dumps({"dataframe_split": split}).encode(), JSON),
        "dataframe_split without index": (
            json.dumps(
                {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
            ).encode(),
            "application/json; charset=utf-8",
        ),
        "dataframe_records": (
            json.dumps({"dataframe_records": X.to_dict(orient="records")}).encode(),
            JSON,
        ),
        "instances (records)": (
            json.dumps({"instances": X.to_dict(orient="records")}).encode(),
            JSON,
        ),
        "instances (rows)": (json.dumps({"instances": X.to_numpy().tolist()}).encode(), JSON),
        "inputs (columns)": (
            json.dumps({"inputs": X.to_dict(orient="list")}).encode(),
            JSON,
        ),
        "inputs (rows)": (
            json.dumps({"inputs": X.to_numpy().tolist(), "params": {"k": 1}}).encode(),
            JSON,
        ),
        "csv": (X.to_csv(index=False).encode(), "text/csv"),
        "csv with a charset": (X.to_csv(index=False).encode(), "text/csv; charset=UTF-8"),
    }


@pytest.mark.parametrize(
    "form",
    [
        "dataframe_split",
        "dataframe_split without index",
        "dataframe_records",
        "instances (records)",
        "instances (rows)",
        "inputs (columns)",
        "inputs (rows)",
        "csv",
        "csv with a charset",
    ],
)
def test_every_format_predicts_as_in_process(model: Any, form: str) -> None:
    predictor, X = model
    body, content_type = _bodies(X)[form]
    request = decode_invocations(body, content_type, predictor.features)
    assert request.format == form.split(" ")[0]
    assert request.params == ({"k": 1} if form == "inputs (rows)" else None)
    found = predictor.predict(request.rows)
    expected = predictor.predict(X)
    assert found.predictions.tolist() == expected.predictions.tolist()
    np.testing.assert_allclose(found.probabilities, expected.probabilities)
    answer = orjson.loads(encode_invocations(found))
    assert answer == {"predictions": expected.predictions.tolist()}


def test_rows_by_position_without_known_columns_are_a_matrix() -> None:
    request = decode_invocations(b'{"inputs": [[1, 2], [3, 4.5]]}', None)
    assert isinstance(request.rows, np.ndarray)
    assert request.rows.tolist() == [[1.0, 2.0], [3.0, 4.5]]
    split = decode_invocations(b'{"dataframe_split": {"data": [[1, 2]]}}', JSON)
    assert split.rows.tolist() == [[1, 2]]


def test_one_column_may_come_as_a_flat_list() -> None:
    request = decode_invocations(b'{"instances": [1, 2, 3]}', JSON, ["x"])
    assert request.rows == {"x": [1, 2, 3]}


def test_csv_columns_take_the_types_pandas_gives_them() -> None:
    body = b"n,x,flag,text,none\n1,1.5,True,a,\n2,,false,,\n"
    rows = decode_invocations(body, "text/csv").rows
    assert rows == {
        "n": [1, 2],
        "x": [1.5, None],
        "flag": [True, False],
        "text": ["a", None],
        "none": [None, None],
    }
    quoted = decode_invocations(b'a,b\n"x, y",2\n', "text/csv").rows
    assert quoted == {"a": ["x, y"], "b": [2]}


def test_the_answer_holds_one_value_per_row_of_any_kind() -> None:
    labels = Prediction(np.array(["yes", "no"], dtype=object))
    assert orjson.loads(encode_invocations(labels)) == {"predictions": ["yes", "no"]}
    numbers = Prediction(np.array([0.5, 1.25]))
    assert encode_invocations(numbers) == b'{"predictions":[0.5,1.25]}'


MALFORMED = [
    ("bad JSON", b'{"inputs": [', JSON, "body", "not valid JSON"),
    ("a list", b"[[1, 2]]", JSON, "body", "the JSON body is a list"),
    ("no format key", b'{"data": [[1]]}', JSON, "data", "has keys data; give exactly one of"),
    ("two format keys", b'{"inputs": [[1]], "instances": [[1]]}', JSON, "instances",
     "has keys inputs, instances"),
    ("an unknown key beside one", b'{"inputs": [[1]], "extra": 1}', JSON, "extra", "extra"),
    ("an empty object", b"{}", JSON, "body", "has keys (none)"),
    ("params not an object", b'{"inputs": [[1]], "params": [1]}', JSON, "params",
     '"params" is a list'),
    ("split without data", b'{"dataframe_split": {"columns": ["a"]}}', JSON, "dataframe_split",
     '{"columns": [names], "data"'),
    ("split columns not names", b'{"dataframe_split": {"columns": "a", "data": [[1]]}}', JSON,
     "dataframe_split.columns", "give a list of column names"),
    ("split row of the wrong width", b'{"dataframe_split": {"columns": ["a", "b"], '
     b'"data": [[1, 2], [3]]}}', JSON, "dataframe_split.data", "[1] is [3]; each row is a "
     "list of 2 value(s)"),
    ("split columns twice", b'{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}',
     JSON, "a", "columns named twice: a"),
    ("records not records", b'{"dataframe_records": [1, 2]}', JSON, "dataframe_records",
     "give a non-empty list of records"),
    ("records empty", b'{"dataframe_records": []}', JSON, "dataframe_records", "non-empty"),
    ("instances not a list", b'{"instances": {"a": 1}}', JSON, "instances",
     "give a list of records or a list of rows"),
    ("instances ragged", b'{"instances": [[1, 2], [3]]}', JSON, "instances",
     "not a table of rows of the same length"),
    ("inputs empty", b'{"inputs": {}}', JSON, "inputs", "empty object"),
    ("inputs a number", b'{"inputs": 3}', JSON, "inputs", "{column: [values], ...}"),
    ("another content type", b"a=1", "application/x-www-form-urlencoded", "Content-Type",
     "is not a format /invocations reads"),
    ("another charset", b"{}", "application/json; charset=latin-1", "Content-Type",
     "charset latin-1; send UTF-8"),
    ("MLflow 1.x's format parameter", b"{}", "application/json; format=pandas-split",
     "Content-Type", "has the parameter 'format=pandas-split'"),
    ("CSV header only", b"a,b\n", "text/csv", "body", "a header row and at least one row"),
    ("CSV ragged", b"a,b\n1,2\n3\n", "text/csv", "body", "CSV line 3 has 1 value(s)"),
    ("CSV not UTF-8", b"a\n\xff\n", "text/csv", "body", "not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "field", "text"),
    [c[1:] for c in MALFORMED],
    ids=[c[0] for c in MALFORMED],
)
def test_malformed_requests_are_invalid_input_naming_the_key(
    body: bytes, content_type: str, field: str, text: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        decode_invocations(body, content_type)
    assert error.value.field == field
    assert text in str(error.value)


def test_errors_about_the_format_list_what_is_accepted() -> None:
    with pytest.raises(InvalidInput) as error:
        decode_invocations(b'{"columns": ["a"], "data": [[1]]}', JSON)
    message = str(error.value)
    for name in ("dataframe_split", "dataframe_records", "instances", "inputs", "text/csv"):
        assert name in message


def test_rows_by_position_of_the_wrong_width_name_the_columns() -> None:
    with pytest.raises(InvalidInput, match=r"each row is a list of 3 value\(s\)") as error:
        decode_invocations(b'{"inputs": [[1, 2]]}', JSON, ["a", "b", "c"])
    assert error.value.field == "inputs"
